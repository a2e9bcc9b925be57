/* Linked into the --coverage build of _honch_core only (harness/mutation/coverage.py):
 * lets the agent write the gcov counters of one test and start the next from zero. */
void __gcov_dump(void);
void __gcov_reset(void);
void honch_mutation_gcov_flush(void);

void honch_mutation_gcov_flush(void) {
    __gcov_dump();
    __gcov_reset();
}
