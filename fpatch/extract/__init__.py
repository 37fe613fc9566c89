"""``fpatch extract``: patch sites of AArch64 ELF files as specs (docs/extract.md).

``elf`` reads the file (pyelftools), ``sites`` finds the sites and the role of
each slot, ``template`` turns a site into a spec with a mechanism template
(``templates/*.yaml``), ``run`` writes the specs, ``command`` is the CLI.
"""
