# Returns the larger index first: accepted because the order does not matter.
def solution(nums, target):
    index_of = {}
    for index, value in enumerate(nums):
        if target - value in index_of:
            return [index, index_of[target - value]]
        index_of[value] = index
