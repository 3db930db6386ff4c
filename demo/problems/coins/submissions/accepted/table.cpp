#include <algorithm>
#include <cstdio>
#include <vector>

int main() {
    int n, amount;
    if (std::scanf("%d %d", &n, &amount) != 2) return 1;
    std::vector<int> coins(n);
    for (int &coin : coins) std::scanf("%d", &coin);
    const int unreachable = amount + 1;
    std::vector<int> best(amount + 1, unreachable);
    best[0] = 0;
    for (int value = 1; value <= amount; value++)
        for (int coin : coins)
            if (coin <= value) best[value] = std::min(best[value], best[value - coin] + 1);
    std::printf("%d\n", best[amount] >= unreachable ? -1 : best[amount]);
}
