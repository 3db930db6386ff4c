# Correct, but tries every pair: about 2 * 10^8 steps on the largest tests.
def solution(nums, target):
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            if nums[i] + nums[j] == target:
                return [i, j]
    return []
