/* Function sizes that leave some pre-function NOP pairs off 8-byte alignment
 * (compiled with -falign-functions=4). */
int first(int x, int y) { return x * y + 1; }

int second(int x) { return x * 3; }

int third(int x, int y, int z) { return x * y + z * 5; }
