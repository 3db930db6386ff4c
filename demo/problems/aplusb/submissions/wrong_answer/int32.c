#include <stdio.h>

/* Reads the numbers into 32-bit ints: wrong once they leave the int range. */
int main(void) {
    long long a, b;
    if (scanf("%lld %lld", &a, &b) != 2) return 1;
    int x = (int)a, y = (int)b;
    printf("%d\n", x + y);
    return 0;
}
