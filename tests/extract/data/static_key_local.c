/* A file-local static key: the __jump_table key field is then a relocation against
 * the section (.bss + 1, bit 0 the branch polarity), not against the key's symbol. */
struct static_key { int enabled; };

static struct static_key key_local;

static inline __attribute__((always_inline)) _Bool arch_static_branch(struct static_key *key,
								      _Bool branch)
{
	asm goto(
		"1:	nop					\n\t"
		 "	.pushsection	__jump_table, \"aw\"	\n\t"
		 "	.align		3			\n\t"
		 "	.long		1b - ., %l[l_yes] - .	\n\t"
		 "	.quad		%c0 - .			\n\t"
		 "	.popsection				\n\t"
		 :  :  "i"(&((char *)key)[branch]) :  : l_yes);

	return 0;
l_yes:
	return 1;
}

int slow_path(int x);

int local_user(int x)
{
	key_local.enabled = x;
	if (arch_static_branch(&key_local, 1))
		return slow_path(x);
	return x;
}
