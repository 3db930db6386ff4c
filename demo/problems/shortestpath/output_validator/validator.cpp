// Output validator of Delivery Route: validator input answer feedback_dir < team_output.
// Accepts (exit 42) any route from 1 to n along existing streets whose riding
// time is the optimum given in the answer file; rejects (exit 43) otherwise.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <utility>
#include <vector>

static std::string feedback_dir;

[[noreturn]] static void finish(int code, const std::string &message) {
    std::ofstream(feedback_dir + "/judgemessage.txt") << message << '\n';
    std::exit(code);
}

// Reads one whitespace-separated integer from the team output, rejecting anything else.
static bool read_number(long long &value) {
    std::string token;
    if (!(std::cin >> token)) return false;
    char *end = nullptr;
    errno = 0;
    value = std::strtoll(token.c_str(), &end, 10);
    if (errno != 0 || end == token.c_str() || *end != '\0') finish(43, "not an integer: " + token.substr(0, 40));
    return true;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        std::fprintf(stderr, "usage: validator input answer feedback_dir\n");
        return 1;
    }
    feedback_dir = argv[3];
    std::ifstream input(argv[1]), answer(argv[2]);
    long long n, m, best;
    input >> n >> m;
    answer >> best;
    std::map<std::pair<long long, long long>, long long> street;
    for (long long i = 0; i < m; i++) {
        long long u, v, w;
        input >> u >> v >> w;
        for (auto key : {std::make_pair(u, v), std::make_pair(v, u)}) {
            auto found = street.find(key);
            if (found == street.end() || found->second > w) street[key] = w;
        }
    }

    long long distance;
    if (!read_number(distance)) finish(43, "empty output");
    if (distance != best) finish(43, "riding time " + std::to_string(distance) + ", the optimum is " + std::to_string(best));
    if (best == -1) {
        std::string extra;
        if (std::cin >> extra) finish(43, "output after -1: " + extra.substr(0, 40));
        finish(42, "correctly reported that junction n is unreachable");
    }

    long long count;
    if (!read_number(count)) finish(43, "missing the number of junctions on the route");
    if (count < 2 || count > 10 * n) finish(43, "invalid number of junctions on the route: " + std::to_string(count));
    std::vector<long long> route(count);
    for (auto &junction : route) {
        if (!read_number(junction)) finish(43, "the route has fewer junctions than announced");
        if (junction < 1 || junction > n) finish(43, "junction out of range: " + std::to_string(junction));
    }
    if (route.front() != 1 || route.back() != n) finish(43, "the route must start at 1 and end at n");
    long long total = 0;
    for (long long i = 0; i + 1 < count; i++) {
        auto found = street.find({route[i], route[i + 1]});
        if (found == street.end()) {
            finish(43, "no street between " + std::to_string(route[i]) + " and " + std::to_string(route[i + 1]));
        }
        total += found->second;
    }
    if (total != best) finish(43, "the route takes " + std::to_string(total) + " minutes, not the claimed " + std::to_string(distance));
    std::string extra;
    if (std::cin >> extra) finish(43, "trailing output: " + extra.substr(0, 40));
    finish(42, "fastest route");
}
