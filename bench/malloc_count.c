/*
 * malloc_count.c: an LD_PRELOAD library that counts heap allocation calls, for
 * `make bench`'s allocations-per-request figure.
 *
 *   cc -O2 -shared -fPIC -o malloc_count.so malloc_count.c -ldl
 *   MALLOC_COUNT_FILE=/tmp/counts LD_PRELOAD=$PWD/malloc_count.so portcullis serve ...
 *
 * The counters live in MALLOC_COUNT_FILE itself: the file is mmap'ed shared and
 * every wrapper increments a relaxed atomic in it. A reader gets the live
 * counts at any time by reading the file (8 little-endian uint64 values,
 * layout below) — no signal handler to collide with the program's own, no
 * thread, no syscall on the allocation path. The file is reset when a process
 * loads the library (an exec'ing wrapper such as taskset leaves the count to
 * the program it runs); read it twice and subtract.
 *
 * Counted: malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign,
 * valloc, pvalloc (all "allocation calls"), free, and the bytes requested.
 * The Swift runtime allocates through malloc on Linux (swift_slowAlloc ->
 * malloc, or aligned_alloc/posix_memalign for large alignments), and so do
 * Foundation, BoringSSL and the C++ runtime (operator new -> malloc).
 *
 * Bootstrap: dlsym(RTLD_NEXT, ...) itself may call calloc/malloc before the
 * real functions are known; those few requests are served from a static
 * buffer and their frees ignored.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum {
    C_ALLOCS,   /* every allocation call below, summed */
    C_MALLOC,
    C_CALLOC,
    C_REALLOC,
    C_MEMALIGN, /* posix_memalign, aligned_alloc, memalign, valloc, pvalloc */
    C_FREE,     /* free of a non-NULL pointer */
    C_BYTES,    /* bytes requested (size argument; realloc: new size) */
    C_MAGIC,    /* 0x6d616c6c6f63 ("malloc") once the file is live */
    C_COUNT
};

typedef struct { uint64_t v[C_COUNT]; } counters_t;

static counters_t local_counters;            /* until the file is mapped */
static counters_t *counters = &local_counters;

static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static void (*real_free)(void *);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);
static void *(*real_valloc)(size_t);
static void *(*real_pvalloc)(size_t);

/* Static arena for allocations made while dlsym runs. */
static _Alignas(64) unsigned char boot_buf[64 * 1024];
static size_t boot_used;
static int resolving;

static int in_boot(const void *p) {
    return (const unsigned char *)p >= boot_buf && (const unsigned char *)p < boot_buf + sizeof boot_buf;
}

static void *boot_alloc(size_t size, size_t align) {
    if (align < 16) align = 16;
    if (align & (align - 1)) return NULL;
    uintptr_t base = (uintptr_t)boot_buf;
    uintptr_t start = (base + boot_used + align - 1) & ~(uintptr_t)(align - 1);
    if (start + size > base + sizeof boot_buf) return NULL;
    boot_used = start + size - base;
    return (void *)start; /* static storage: already zeroed, never reused */
}

static inline void count(int which, size_t bytes) {
    __atomic_fetch_add(&counters->v[which], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&counters->v[C_ALLOCS], 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&counters->v[C_BYTES], bytes, __ATOMIC_RELAXED);
}

static void resolve(void) {
    if (real_malloc || resolving) return;
    resolving = 1;
    real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "memalign");
    real_valloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "valloc");
    real_pvalloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "pvalloc");
    /* Last: real_malloc != NULL means "all resolved". */
    void *(*m)(size_t) = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
    __atomic_store_n(&real_malloc, m, __ATOMIC_RELEASE);
    resolving = 0;
}

__attribute__((constructor)) static void malloc_count_init(void) {
    resolve();
    const char *path = getenv("MALLOC_COUNT_FILE");
    if (!path || !*path) return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (ftruncate(fd, 0) != 0 || ftruncate(fd, sizeof(counters_t)) != 0) { close(fd); return; }
    void *map = mmap(NULL, sizeof(counters_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return;
    counters_t *shared = (counters_t *)map;
    /* Constructors run before any other thread exists: a plain copy is enough. */
    memcpy(shared, &local_counters, sizeof local_counters);
    shared->v[C_MAGIC] = 0x6d616c6c6f63ULL;
    __atomic_store_n(&counters, shared, __ATOMIC_RELEASE);
}

void *malloc(size_t size) {
    if (!real_malloc) {
        resolve();
        if (!real_malloc) return boot_alloc(size, 16);
    }
    count(C_MALLOC, size);
    return real_malloc(size);
}

void *calloc(size_t n, size_t size) {
    if (!real_malloc) {
        resolve();
        if (!real_malloc) {
            size_t total;
            if (__builtin_mul_overflow(n, size, &total)) return NULL;
            return boot_alloc(total, 16);
        }
    }
    count(C_CALLOC, n * size);
    return real_calloc(n, size);
}

void *realloc(void *p, size_t size) {
    if (!real_malloc) resolve();
    if (in_boot(p) || !real_malloc) {
        void *q = real_malloc ? malloc(size) : boot_alloc(size, 16);
        if (q && p) {
            size_t avail = (size_t)(boot_buf + sizeof boot_buf - (unsigned char *)p);
            memcpy(q, p, size < avail ? size : avail);
        }
        return q;
    }
    count(C_REALLOC, size);
    return real_realloc(p, size);
}

void free(void *p) {
    if (!p || in_boot(p)) return;
    __atomic_fetch_add(&counters->v[C_FREE], 1, __ATOMIC_RELAXED);
    if (!real_free) resolve();
    if (real_free) real_free(p);
}

int posix_memalign(void **out, size_t align, size_t size) {
    if (!real_malloc) {
        resolve();
        if (!real_malloc) {
            void *p = boot_alloc(size, align);
            if (!p) return ENOMEM;
            *out = p;
            return 0;
        }
    }
    count(C_MEMALIGN, size);
    return real_posix_memalign(out, align, size);
}

void *aligned_alloc(size_t align, size_t size) {
    if (!real_malloc) {
        resolve();
        if (!real_malloc) return boot_alloc(size, align);
    }
    count(C_MEMALIGN, size);
    return real_aligned_alloc(align, size);
}

void *memalign(size_t align, size_t size) {
    if (!real_malloc) {
        resolve();
        if (!real_malloc) return boot_alloc(size, align);
    }
    count(C_MEMALIGN, size);
    return real_memalign(align, size);
}

void *valloc(size_t size) {
    if (!real_malloc) {
        resolve();
        if (!real_malloc) return boot_alloc(size, 4096);
    }
    count(C_MEMALIGN, size);
    return real_valloc(size);
}

void *pvalloc(size_t size) {
    if (!real_malloc) {
        resolve();
        if (!real_malloc) return boot_alloc((size + 4095) & ~(size_t)4095, 4096);
    }
    count(C_MEMALIGN, size);
    return real_pvalloc(size);
}
