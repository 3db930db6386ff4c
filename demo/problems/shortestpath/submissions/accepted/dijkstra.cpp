#include <algorithm>
#include <cstdio>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

int main() {
    int n, m;
    if (std::scanf("%d %d", &n, &m) != 2) return 1;
    std::vector<std::vector<std::pair<int, long long>>> adjacent(n + 1);
    for (int i = 0; i < m; i++) {
        int u, v;
        long long w;
        std::scanf("%d %d %lld", &u, &v, &w);
        adjacent[u].push_back({v, w});
        adjacent[v].push_back({u, w});
    }
    const long long infinity = -1;
    std::vector<long long> distance(n + 1, infinity);
    std::vector<int> previous(n + 1, 0);
    std::priority_queue<std::pair<long long, int>, std::vector<std::pair<long long, int>>, std::greater<>> queue;
    distance[1] = 0;
    queue.push({0, 1});
    while (!queue.empty()) {
        auto [d, node] = queue.top();
        queue.pop();
        if (d != distance[node]) continue;
        for (auto [next, w] : adjacent[node]) {
            if (distance[next] == infinity || d + w < distance[next]) {
                distance[next] = d + w;
                previous[next] = node;
                queue.push({d + w, next});
            }
        }
    }
    if (distance[n] == infinity) {
        std::printf("-1\n");
        return 0;
    }
    std::vector<int> route = {n};
    while (route.back() != 1) route.push_back(previous[route.back()]);
    std::reverse(route.begin(), route.end());
    std::printf("%lld\n%zu\n", distance[n], route.size());
    for (size_t i = 0; i < route.size(); i++) std::printf("%d%c", route[i], i + 1 == route.size() ? '\n' : ' ');
}
