#include <cstdio>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

// Computes the right riding time but forgets to print the route.
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
    std::vector<long long> distance(n + 1, -1);
    std::priority_queue<std::pair<long long, int>, std::vector<std::pair<long long, int>>, std::greater<>> queue;
    queue.push({0, 1});
    while (!queue.empty()) {
        auto [d, node] = queue.top();
        queue.pop();
        if (distance[node] != -1) continue;
        distance[node] = d;
        for (auto [next, w] : adjacent[node]) {
            if (distance[next] == -1) queue.push({d + w, next});
        }
    }
    std::printf("%lld\n", distance[n]);
}
