/* The core benchmark's algorithms in plain C, compiled at -O2, as the yardstick for the
 * interpreters (bench/core_bench.py compiles and runs this on the fly).
 *
 * Each kernel mirrors the guest program of the same name instruction for instruction
 * where C allows it; `volatile` sinks and noinline keep the compiler from folding the work
 * away without making it artificially slow.
 *
 * usage: cloop KERNEL N      prints "<kernel> <iterations> <seconds>"
 *   loop  N: the 5-instruction counted loop, N iterations
 *   fib   N: recursive fib(N) (iterations = calls)
 *   sieve N: sieve of Eratosthenes over N bytes, repeated until 0.2 s (iterations = passes)
 *   mem   N: the memory loop over N words (iterations = words touched)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile uint32_t sink;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* loop: add r2,r2,1; xor r3,r3,r2; sub r1,r1,1; add r4,r4,r3; bne r1,r0,loop */
static __attribute__((noinline)) uint32_t kernel_loop(uint32_t n)
{
    uint32_t r2 = 0, r3 = 0, r4 = 0;
    do {
        r2 += 1;
        r3 ^= r2;
        n -= 1;
        r4 += r3;
        __asm__ volatile("" : "+r"(r3));   /* keep the loop a loop */
    } while (n != 0);
    return r4;
}

static uint64_t fib_calls;

static __attribute__((noinline)) uint32_t fib(uint32_t n)
{
    fib_calls++;
    if (n < 2)
        return n;
    return fib(n - 1) + fib(n - 2);
}

static __attribute__((noinline)) uint32_t sieve(uint8_t *flags, uint32_t n)
{
    for (uint32_t i = 2; i < n; i++)
        flags[i] = 1;
    for (uint32_t i = 2; i * i < n; i++)
        if (flags[i])
            for (uint32_t j = i * i; j < n; j += i)
                flags[j] = 0;
    uint32_t count = 0;
    for (uint32_t i = 2; i < n; i++)
        count += flags[i];
    return count;
}

/* mem: for i in 0..n: a[i] = a[i] + i (words) */
static __attribute__((noinline)) uint32_t memloop(uint32_t *a, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        a[i] = a[i] + i;
        __asm__ volatile("" ::: "memory");  /* one load and one store per word, like the guest */
    }
    return a[n - 1];
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: cloop loop|fib|sieve|mem N\n");
        return 2;
    }
    const char *k = argv[1];
    uint32_t n = (uint32_t)strtoul(argv[2], NULL, 0);
    double t0, t1;
    uint64_t iters;
    if (!strcmp(k, "loop")) {
        t0 = now();
        sink = kernel_loop(n);
        t1 = now();
        iters = n;
    } else if (!strcmp(k, "fib")) {
        t0 = now();
        sink = fib(n);
        t1 = now();
        iters = fib_calls;
    } else if (!strcmp(k, "sieve")) {
        uint8_t *flags = calloc(n, 1);
        iters = 0;
        t0 = now();
        do {
            sink = sieve(flags, n);
            iters++;
            t1 = now();
        } while (t1 - t0 < 0.2);
        free(flags);
    } else if (!strcmp(k, "mem")) {
        uint32_t *a = calloc(n, 4);
        iters = 0;
        t0 = now();
        do {
            sink = memloop(a, n);
            iters += n;
            t1 = now();
        } while (t1 - t0 < 0.2);
        free(a);
    } else {
        fprintf(stderr, "unknown kernel %s\n", k);
        return 2;
    }
    printf("%s %llu %.9f\n", k, (unsigned long long)iters, t1 - t0);
    return 0;
}
