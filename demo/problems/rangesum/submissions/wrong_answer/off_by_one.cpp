#include <cstdio>
#include <vector>

// Subtracts prefix[left] instead of prefix[left - 1], dropping shelf l.
int main() {
    int n, q;
    if (std::scanf("%d %d", &n, &q) != 2) return 1;
    std::vector<long long> prefix(n + 1, 0);
    for (int i = 1; i <= n; i++) {
        long long value;
        std::scanf("%lld", &value);
        prefix[i] = prefix[i - 1] + value;
    }
    while (q--) {
        int left, right;
        std::scanf("%d %d", &left, &right);
        std::printf("%lld\n", prefix[right] - prefix[left]);
    }
}
