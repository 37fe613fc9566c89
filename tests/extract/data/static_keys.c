/*
 * Jump labels written the way arch/arm64/include/asm/jump_label.h writes them:
 * `1: nop` (or `1: b l_yes`) and a relative struct jump_entry in __jump_table,
 * `.long 1b - ., l_yes - . ; .quad key - .` with the branch polarity in bit 0.
 */
struct static_key { int enabled; };

struct static_key key_false;
struct static_key key_true;

#define __always_inline inline __attribute__((always_inline))

static __always_inline _Bool arch_static_branch(struct static_key *key, _Bool branch)
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

static __always_inline _Bool arch_static_branch_jump(struct static_key *key, _Bool branch)
{
	asm goto(
		"1:	b		%l[l_yes]		\n\t"
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

int unlikely_user(int x)
{
	if (arch_static_branch(&key_false, 0))
		return slow_path(x);
	return x + 1;
}

int likely_user(int x)
{
	if (arch_static_branch_jump(&key_true, 1))
		return slow_path(x + 2);
	return x - 1;
}
