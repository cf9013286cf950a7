#include "detail/record_pool.hpp"
#include "detail/mutex.hpp"

#include <array>
#include <atomic>
#include <utility>

#if defined(__SANITIZE_ADDRESS__)
#define RSP_RECORD_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSP_RECORD_POOL 0
#endif
#endif
#ifndef RSP_RECORD_POOL
#define RSP_RECORD_POOL 1
#endif

namespace rsp::detail {
namespace {

struct FreeBlock {
  FreeBlock* next;
};

struct Depot {
  Mutex mutex;  // a leaf
  // Each a list of exactly kRecordGroup blocks.
  std::array<FreeBlock*, kMaxDepotGroups> groups RSP_GUARDED_BY(mutex){};
  std::size_t count RSP_GUARDED_BY(mutex) = 0;
};

// Never destroyed: threads may free records while the program exits.
Depot& depot() {
  static Depot* const instance = new Depot;
  return *instance;
}

// Trivially destructible, so it stays usable after the thread's flusher has run (a record
// freed by a thread_local or static destructor then goes straight to operator delete).
struct ThreadCache {
  FreeBlock* head = nullptr;  // up to kRecordGroup blocks, handed out first
  std::size_t count = 0;
  FreeBlock* spare = nullptr;  // a full group or nothing
  bool registered = false;     // the flusher exists for this thread
  bool closed = false;         // the flusher ran: no more caching on this thread
};
thread_local ThreadCache tl_cache;

// Blocks from operator new not yet given back; changed only on the slow paths when pooling.
std::atomic<std::size_t> g_live_blocks{0};

void* new_block() {
  void* block = ::operator new(kRecordBlock);
  g_live_blocks.fetch_add(1, std::memory_order_relaxed);
  return block;
}

void delete_block(void* block) noexcept {
  g_live_blocks.fetch_sub(1, std::memory_order_relaxed);
  ::operator delete(block);  // unsized: Clang enables sized deallocation only on request
}

void delete_blocks(FreeBlock* list) noexcept {
  while (list != nullptr) {
    FreeBlock* next = list->next;
    delete_block(list);
    list = next;
  }
}

void give_group(FreeBlock* group) noexcept {
  Depot& shared = depot();
  {
    Lock lock(shared.mutex);
    if (shared.count < kMaxDepotGroups) {
      shared.groups[shared.count++] = group;
      return;
    }
  }
  delete_blocks(group);
}

FreeBlock* take_group() noexcept {
  Depot& shared = depot();
  Lock lock(shared.mutex);
  return shared.count == 0 ? nullptr : shared.groups[--shared.count];
}

// Returns a finished thread's full groups to the depot; a partial one is deleted.
struct CacheFlusher {
  ~CacheFlusher() {
    ThreadCache& cache = tl_cache;
    if (cache.spare != nullptr) give_group(cache.spare);
    if (cache.count == kRecordGroup) {
      give_group(cache.head);
    } else {
      delete_blocks(cache.head);
    }
    cache = ThreadCache{};
    cache.registered = true;
    cache.closed = true;
  }
};

// Before a thread first keeps blocks, so that they go back when it ends.
[[gnu::noinline]] void register_flusher(ThreadCache& cache) {
  static thread_local CacheFlusher flusher;
  (void)flusher;
  cache.registered = true;
}

}  // namespace

bool record_pool_enabled() noexcept { return RSP_RECORD_POOL != 0; }

void* allocate_record_block() {
  if constexpr (RSP_RECORD_POOL != 0) {
    ThreadCache& cache = tl_cache;
    if (cache.head == nullptr && !cache.closed) {
      if (!cache.registered) register_flusher(cache);
      if (cache.spare != nullptr) {
        cache.head = std::exchange(cache.spare, nullptr);
      } else {
        cache.head = take_group();
      }
      if (cache.head != nullptr) cache.count = kRecordGroup;
    }
    if (cache.head != nullptr) {
      FreeBlock* block = cache.head;
      cache.head = block->next;
      --cache.count;
      return block;
    }
  }
  return new_block();
}

void free_record_block(void* block) noexcept {
  if constexpr (RSP_RECORD_POOL != 0) {
    ThreadCache& cache = tl_cache;
    if (!cache.closed) {
      if (!cache.registered) register_flusher(cache);
      if (cache.count == kRecordGroup) {
        // The current list is a full group: it becomes the spare, and an older spare goes to
        // the depot for the threads that make records.
        if (cache.spare != nullptr) give_group(cache.spare);
        cache.spare = std::exchange(cache.head, nullptr);
        cache.count = 0;
      }
      auto* free_block = static_cast<FreeBlock*>(block);
      free_block->next = cache.head;
      cache.head = free_block;
      ++cache.count;
      return;
    }
  }
  delete_block(block);
}

std::size_t pooled_record_blocks() noexcept {
  if constexpr (RSP_RECORD_POOL == 0) return 0;
  Depot& shared = depot();
  Lock lock(shared.mutex);
  return shared.count * kRecordGroup + tl_cache.count +
         (tl_cache.spare != nullptr ? kRecordGroup : 0);
}

std::size_t live_record_blocks() noexcept { return g_live_blocks.load(std::memory_order_relaxed); }

}  // namespace rsp::detail
