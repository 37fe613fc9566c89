/* Glue for the linked executable of the extract tests. */
int leaf(int x);
int nonleaf(int x);
int uses_helper(int x);
int unlikely_user(int x);
int likely_user(int x);

int ext(int x) { return x - 7; }
int slow_path(int x) { return x * 11; }

int main(int argc, char **argv)
{
	(void)argv;
	return leaf(argc) + nonleaf(argc) + uses_helper(argc) + unlikely_user(argc) + likely_user(argc);
}
