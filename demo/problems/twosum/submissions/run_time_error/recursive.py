# Scans recursively: fine on small lists, RecursionError past Python's depth limit.
def find(nums, target, index, index_of):
    if target - nums[index] in index_of:
        return [index_of[target - nums[index]], index]
    index_of[nums[index]] = index
    return find(nums, target, index + 1, index_of)


def solution(nums, target):
    return find(nums, target, 0, {})
