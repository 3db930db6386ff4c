# Forgets that the two indices must differ: with [3, 2, 4] and target 6 it
# returns the 3 twice.
def solution(nums, target):
    index_of = {value: index for index, value in enumerate(nums)}
    for index, value in enumerate(nums):
        if target - value in index_of:
            return sorted([index, index_of[target - value]])
    return []
