// Returns 1-based indices.
function solution(nums, target) {
  const indexOf = new Map();
  for (let i = 0; i < nums.length; i++) {
    if (indexOf.has(target - nums[i])) return [indexOf.get(target - nums[i]) + 1, i + 1];
    indexOf.set(nums[i], i);
  }
  return [];
}
