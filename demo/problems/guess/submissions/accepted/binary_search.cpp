#include <iostream>
#include <string>

int main() {
    long long n;
    std::cin >> n;
    long long low = 1, high = n;
    while (true) {
        long long guess = low + (high - low) / 2;
        std::cout << guess << std::endl;  // endl flushes
        std::string reply;
        if (!(std::cin >> reply) || reply == "correct") break;
        if (reply == "lower") high = guess - 1; else low = guess + 1;
    }
}
