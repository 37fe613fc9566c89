/* Functions for the ftrace extractor: a leaf, a non-leaf (frame + call), a static one. */
int ext(int x);

int leaf(int x) { return x * 3; }

int nonleaf(int x) { return ext(x) + 1; }

static int helper(int x) { return x ^ 0x55; }

int uses_helper(int x) { return helper(x) + helper(x + 1); }
