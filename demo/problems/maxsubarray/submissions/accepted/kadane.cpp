#include <algorithm>
#include <cstdio>

int main() {
    int n;
    if (std::scanf("%d", &n) != 1) return 1;
    long long best = 0, current = 0;
    for (int i = 0; i < n; i++) {
        long long value;
        std::scanf("%lld", &value);
        current = i == 0 ? value : std::max(value, current + value);
        best = i == 0 ? current : std::max(best, current);
    }
    std::printf("%lld\n", best);
}
