"""Web pages served by the server: static HTML, JavaScript and CSS, no build step."""
