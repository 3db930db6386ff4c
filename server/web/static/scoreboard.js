// Live scoreboard page: a snapshot over the WebSocket, then deltas applied in place.
// Message types: snapshot, rows, state, reveal, refresh, pong (see server/scoreboard.py).
"use strict";

(function () {
  const contestId = document.body.dataset.contestId;
  const PING_INTERVAL_MS = 25000;
  const MAX_RETRY_MS = 10000;

  const board = {
    scoring: "icpc",
    problems: [],
    rows: new Map(),
    marks: new Map(),
    frozen: false,
    phase: "",
    startTime: null,
    endTime: null,
    clockOffsetMs: 0,
    changed: new Set(),
  };
  let lastSeq = null;
  let socket = null;
  let retryMs = 500;
  let pingTimer = null;
  let renderQueued = false;

  const element = (id) => document.getElementById(id);

  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function socketUrl(since) {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = since === null ? "" : `?since=${since}`;
    return `${scheme}//${location.host}/ws/contests/${contestId}/scoreboard${query}`;
  }

  function setMarks(firstToSolve) {
    for (const mark of firstToSolve || []) {
      board.marks.set(mark.problem_id, new Set(mark.team_ids));
    }
  }

  function applyState(state) {
    board.phase = state.state || board.phase;
    board.frozen = Boolean(state.frozen);
    if (state.start_time) board.startTime = Date.parse(state.start_time);
    if (state.end_time) board.endTime = Date.parse(state.end_time);
  }

  function applySnapshot(data) {
    board.scoring = data.scoring;
    board.problems = data.problems;
    board.rows = new Map(data.rows.map((row) => [row.team_id, row]));
    board.marks = new Map();
    setMarks(data.first_to_solve);
    board.phase = data.state.state;
    board.frozen = data.frozen;
    board.startTime = Date.parse(data.start_time);
    board.endTime = Date.parse(data.end_time);
    board.clockOffsetMs = Date.parse(data.time) - Date.now();
    board.changed.clear();
  }

  function upsertRow(row) {
    board.rows.set(row.team_id, row);
    board.changed.add(row.team_id);
  }

  function handle(envelope) {
    if (typeof envelope.seq === "number" && envelope.type !== "pong") lastSeq = envelope.seq;
    const data = envelope.data;
    switch (envelope.type) {
      case "snapshot":
        applySnapshot(data);
        break;
      case "rows":
        for (const row of data.rows) upsertRow(row);
        for (const teamId of data.removed || []) board.rows.delete(teamId);
        setMarks(data.first_to_solve);
        break;
      case "reveal":
        upsertRow(data.row);
        setMarks(data.first_to_solve);
        break;
      case "state":
        applyState(data);
        break;
      case "refresh":
        // The server rebuilt the board: start over from a fresh snapshot.
        lastSeq = null;
        socket.close();
        return;
      default:
        return;
    }
    queueRender();
  }

  // Rank order: the rankings key, then the username and id, as the server orders tied rows.
  function compareRows(a, b) {
    if (a.sort_key !== b.sort_key) return a.sort_key - b.sort_key;
    if (a.username !== b.username) return a.username < b.username ? -1 : 1;
    return a.team_id - b.team_id;
  }

  function ioiKind(cell) {
    if (cell.num_pending) return "pending";
    if (cell.solved) return "solved";
    if (cell.score > 0) return "failed partial";
    return "failed";
  }

  function rerank(rows) {
    rows.sort(compareRows);
    let rank = 0;
    let previousKey = null;
    rows.forEach((row, index) => {
      if (row.sort_key !== previousKey) {
        rank = index + 1;
        previousKey = row.sort_key;
      }
      row.rank = rank;
    });
    return rows;
  }

  function cellHtml(row, cell) {
    const tries = cell.num_judged + cell.num_pending;
    const first = cell.solved && (board.marks.get(cell.problem_id) || new Set()).has(row.team_id);
    const data = `data-team="${row.team_id}" data-problem="${cell.problem_id}"`;
    if (board.scoring === "ioi") {
      if (!tries) return `<td ${data}></td>`;
      const kind = ioiKind(cell);
      const pending = cell.num_pending ? `<small>${cell.num_pending} pending</small>` : "";
      return `<td ${data}><span class="cell ${kind}${first ? " first" : ""}">${cell.score}${pending}</span></td>`;
    }
    if (cell.solved) {
      // "+" alone is a first-try solve, and "+2" means two rejected attempts came before it.
      const rejected = cell.num_judged > 1 ? cell.num_judged - 1 : "";
      return `<td ${data}><span class="cell solved${first ? " first" : ""}">+${rejected}<small>${cell.time} min</small></span></td>`;
    }
    if (cell.num_pending) {
      return `<td ${data}><span class="cell pending">?${tries}<small>${cell.num_judged} + ${cell.num_pending} pending</small></span></td>`;
    }
    if (cell.num_judged) {
      return `<td ${data}><span class="cell failed">-${cell.num_judged}</span></td>`;
    }
    return `<td ${data}></td>`;
  }

  function render() {
    renderQueued = false;
    const icpc = board.scoring !== "ioi";
    const head = [`<tr><th>#</th><th class="name">Name</th>`];
    head.push(icpc ? "<th>Solved</th><th>Penalty</th>" : "<th>Score</th>");
    for (const problem of board.problems) head.push(`<th>${escapeHtml(problem.label)}</th>`);
    head.push("</tr>");
    element("board-head").innerHTML = head.join("");

    const rows = rerank(Array.from(board.rows.values()));
    const body = [];
    for (const row of rows) {
      const changed = board.changed.has(row.team_id) ? ' class="changed"' : "";
      body.push(`<tr data-team="${row.team_id}"${changed}><td class="rank">${row.rank}</td>`);
      body.push(`<td class="name">${escapeHtml(row.username)}</td>`);
      body.push(icpc ? `<td class="total">${row.score.num_solved}</td><td>${row.score.total_time}</td>` : `<td class="total">${row.score.score}</td>`);
      const cells = new Map(row.problems.map((cell) => [cell.problem_id, cell]));
      for (const problem of board.problems) {
        const cell = cells.get(problem.problem_id);
        body.push(cell ? cellHtml(row, cell) : "<td></td>");
      }
      body.push("</tr>");
    }
    element("board-body").innerHTML = body.join("");
    board.changed.clear();
    element("empty").hidden = rows.length > 0;
    element("frozen-banner").hidden = !board.frozen;
    element("phase").textContent = board.phase;
    updateClock();
  }

  function queueRender() {
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(render);
    }
  }

  function formatDuration(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const hours = Math.floor(total / 3600);
    const minutes = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
    const seconds = String(total % 60).padStart(2, "0");
    return `${hours}:${minutes}:${seconds}`;
  }

  function updateClock() {
    if (board.startTime === null || Number.isNaN(board.startTime)) return;
    const now = Date.now() + board.clockOffsetMs;
    const clock = element("clock");
    if (now < board.startTime) {
      clock.textContent = `starts in ${formatDuration(board.startTime - now)}`;
    } else {
      clock.textContent = formatDuration(Math.min(now, board.endTime) - board.startTime);
    }
  }

  function setOnline(online) {
    const badge = element("connection");
    badge.textContent = online ? "live" : "offline";
    badge.className = `connection ${online ? "online" : "offline"}`;
  }

  function connect() {
    socket = new WebSocket(socketUrl(lastSeq));
    socket.onopen = () => {
      retryMs = 500;
      setOnline(true);
      pingTimer = setInterval(() => socket.send('{"type":"ping"}'), PING_INTERVAL_MS);
    };
    socket.onmessage = (event) => handle(JSON.parse(event.data));
    socket.onclose = () => {
      setOnline(false);
      clearInterval(pingTimer);
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    };
  }

  setInterval(updateClock, 1000);
  connect();
})();
