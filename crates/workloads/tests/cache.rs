//! The page cache (`gdio_cache.glsl`) on the default device with the real pump: lanes asking
//! one page issue one READ and all see its bytes; eviction under pressure with every byte
//! checked; failed READs reach every waiter and leave the page uncached; hostile asks (a page
//! past the end, a file the pump does not hold, garbage in the cache's words) finish with
//! error codes, never a hang or a write outside the pages.
mod common;

use std::fs::File;
use std::path::PathBuf;

use gdio::protocol::cache::{CacheLayout, SlotState, SlotWord};
use gdio::protocol::ResultCode;
use gdio::PumpCache;
use gdio_workloads::cache::{cache_pages, Asks, PagesRun};
use gdio_workloads::{patterns, Gpu, Settings};

const PAGE: u64 = 4096;
const SEED: u32 = 7;

struct World {
    _lock: gdio_test_support::vulkan::Gpu,
    gpu: Gpu,
    _dir: tempfile::TempDir,
    path: PathBuf,
}

/// The serialised device and a test file of `pages` pages made with `SEED`.
fn world(pages: u64) -> World {
    let lock = common::gpu();
    let gpu = Gpu::with_context(lock.ctx.clone(), &Settings::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pages.bin");
    std::fs::write(&path, patterns::file_bytes((pages * PAGE) as usize, SEED)).unwrap();
    World {
        _lock: lock,
        gpu,
        _dir: dir,
        path,
    }
}

fn cache(w: &World, slots: u64, ways: u32) -> PumpCache {
    let layout = CacheLayout::new(slots * PAGE, PAGE, ways).unwrap();
    PumpCache::new(&w.gpu.ctx, layout, &w.gpu.plan).unwrap()
}

fn run(w: &World, c: &PumpCache, file: u32, lanes: u32, pages: &[u32]) -> PagesRun {
    let f = File::open(&w.path).unwrap();
    let asks = Asks {
        file,
        lanes,
        per_lane: pages.len() as u32 / lanes,
        pages,
        seed: SEED,
        check: true,
    };
    cache_pages(&w.gpu, c, &f, &asks, 2).unwrap()
}

fn assert_all_read(r: &PagesRun) {
    for (i, o) in r.outcomes.iter().enumerate() {
        assert_eq!(o.result, PAGE as i32, "ask {i}: {o:?}");
        assert_eq!(o.mismatches, 0, "ask {i}: {o:?}");
    }
}

#[test]
fn lanes_asking_one_page_issue_one_read_and_all_see_its_bytes() {
    let w = world(16);
    let c = cache(&w, 64, 8);
    let lanes = 1024;
    let r = run(&w, &c, 0, lanes, &vec![5; lanes as usize]);
    assert_all_read(&r);
    assert_eq!(r.counters.reads, 1, "{:?}", r.counters);
    assert_eq!(r.pump_reads, 1);
    assert_eq!(r.counters.misses, 1);
    assert_eq!(r.counters.requests(), u64::from(lanes), "{:?}", r.counters);
    // Asked again: every lane hits, nothing is read.
    let again = run(&w, &c, 0, lanes, &vec![5; lanes as usize]);
    assert_all_read(&again);
    assert_eq!(
        again.counters.hits,
        u64::from(lanes),
        "{:?}",
        again.counters
    );
    assert_eq!(again.pump_reads, 0);
}

#[test]
fn eviction_under_pressure_keeps_every_byte_right() {
    let pages = 96u32;
    let w = world(u64::from(pages));
    // 16 slots (4 sets of 4 ways) for 96 pages: most asks miss and evict.
    let c = cache(&w, 16, 4);
    let (lanes, per) = (32u32, 24u32);
    let mut rng = gdio_test_support::rng(11);
    let asks: Vec<u32> = (0..lanes * per)
        .map(|_| rand::Rng::gen_range(&mut rng, 0..pages))
        .collect();
    let r = run(&w, &c, 0, lanes, &asks);
    assert_all_read(&r);
    let k = r.counters;
    assert!(k.evictions > 0, "{k:?}");
    assert_eq!(k.reads, k.misses, "{k:?}");
    assert_eq!(k.requests(), u64::from(lanes * per), "{k:?}");
    assert_eq!(r.pump_reads, k.reads, "{k:?}");
    // Never more than one READ per distinct page while it stays cached: at most one per ask.
    assert!(k.reads <= u64::from(lanes * per));
}

#[test]
fn failed_reads_reach_every_waiter_and_leave_the_page_uncached() {
    let w = world(8);
    let c = cache(&w, 16, 4);
    // File 3 is not registered with the pump: every READ of it fails BAD_FILE.
    let lanes = 256;
    let r = run(&w, &c, 3, lanes, &vec![2; lanes as usize]);
    for (i, o) in r.outcomes.iter().enumerate() {
        assert_eq!(o.result, ResultCode::BadFile.value(), "ask {i}: {o:?}");
    }
    let k = r.counters;
    assert!(k.reads >= 1);
    assert_eq!(k.failed, k.reads, "{k:?}");
    assert_eq!(k.hits, 0, "a failed page is never a hit: {k:?}");
    // The same page of the registered file is read afresh.
    let ok = run(&w, &c, 0, 8, &[2; 8]);
    assert_all_read(&ok);
    assert_eq!(ok.counters.reads, 1, "{:?}", ok.counters);
}

#[test]
fn pages_past_the_end_fail_past_end_and_are_not_cached() {
    let w = world(4);
    let c = cache(&w, 16, 4);
    // Page 4 starts at the end; u32::MAX lies far past it.
    let r = run(&w, &c, 0, 16, &[[4u32, u32::MAX, 1, 4]; 16].concat());
    for (i, o) in r.outcomes.iter().enumerate() {
        let want = if i % 4 == 2 {
            PAGE as i32
        } else {
            ResultCode::PastEnd.value()
        };
        assert_eq!(o.result, want, "ask {i}: {o:?}");
        assert_eq!(o.mismatches, 0);
    }
    assert_eq!(
        c.counters().hits + c.counters().coalesced + c.counters().misses,
        64
    );
}

#[test]
fn garbage_in_the_header_answers_cache_bad_and_reads_nothing() {
    let w = world(4);
    let c = cache(&w, 16, 4);
    c.pages().fill(0, c.pages().len(), 0x5A).unwrap();
    for (word, value) in [(4usize, 40u32), (3, 0), (0, 0xDEAD), (9, 1 << 30), (2, 20)] {
        c.clear().unwrap();
        let good = c.meta().load_u32(word);
        c.meta().store_u32(word, value);
        let r = run(&w, &c, 0, 8, &[1; 16]);
        for o in &r.outcomes {
            assert_eq!(
                o.result,
                ResultCode::CacheBad.value(),
                "header word {word} = {value}"
            );
        }
        assert_eq!(r.pump_reads, 0, "header word {word} = {value}");
        c.meta().store_u32(word, good);
    }
    // Nothing was written into the pages.
    assert!(c
        .pages()
        .read_vec(0, c.pages().len())
        .unwrap()
        .iter()
        .all(|&b| b == 0x5A));
}

#[test]
fn garbage_slot_words_end_every_ask_without_a_hang() {
    let w = world(32);
    let c = cache(&w, 16, 4);
    let layout = c.layout();
    let mut rng = gdio_test_support::rng(3);
    let words64 = c.meta().words64();
    for s in 0..layout.slots() as usize {
        let v: u64 = rand::Rng::gen(&mut rng);
        // Half pinned forever with unknown states, half claiming pages they never read.
        let v = if s % 2 == 0 {
            v | (7 << 20)
        } else {
            SlotWord::new(u64::from(s as u32 % 32), SlotState::Valid, 0).0
        };
        words64[layout.slot_base() / 2 + s].store(v, std::sync::atomic::Ordering::Relaxed);
    }
    let asks: Vec<u32> = (0..64).map(|i| i % 32).collect();
    let r = run(&w, &c, 0, 8, &asks);
    for (i, o) in r.outcomes.iter().enumerate() {
        // Pages claimed by garbage come back with whatever the slot holds (zeros here: the
        // mismatches show it); every other ask reads its page; none hangs or fails the pump.
        assert!(
            o.result == PAGE as i32 || o.result == ResultCode::CacheBad.value() || o.result == 0,
            "ask {i}: {o:?}"
        );
    }
    assert!(r
        .outcomes
        .iter()
        .any(|o| o.result == PAGE as i32 && o.mismatches == 0));
}

/// B-tree lookups through the cache (the GPU's and the host-managed one of the orchestrated
/// loop) find what the CPU finds, with the tree ten times the cache and Zipf keys.
#[test]
fn cached_lookups_agree_with_the_cpu() {
    use gdio_workloads::btree::{self, KeyDist};
    use gdio_workloads::cached_lookup::{self, OrchestratedCache};
    let w = world(1);
    let path = w.path.with_file_name("index");
    let sb = btree::build(&path, 70_000, 5, 255, |_| {}).unwrap();
    let (f, sb2) = btree::open(&path).unwrap();
    assert_eq!((sb.height, sb.nodes), (sb2.height, sb2.nodes));
    // 16 slots of 4 KiB against ~280 nodes.
    let c = cache(&w, 16, 4);
    assert!(sb.nodes >= 10 * 16);
    for (dist, n) in [(KeyDist::Zipf(0.99), 600u64), (KeyDist::Uniform, 300)] {
        let keys = btree::make_keys_dist(sb.keys, sb.seed, n, dist, 4);
        let got = cached_lookup::lookup(&w.gpu, &f, &sb, &keys, 32, 2, &c, |_, _| {}).unwrap();
        let mut orch = OrchestratedCache::new(&w.gpu, &f, &sb, 16, 4096, keys.len(), 2).unwrap();
        let o = orch.lookup(&keys).unwrap();
        for (i, k) in keys.iter().enumerate() {
            let (cpu, nodes) = btree::lookup(&f, &sb, *k).unwrap();
            assert_eq!(got.lookups.results[i].found, cpu, "{dist:?} key {k}");
            assert_eq!(got.lookups.results[i].nodes, nodes, "{dist:?} key {k}");
            assert_eq!(o.results[i].found, cpu, "{dist:?} key {k} (orchestrated)");
        }
        let k = got.counters;
        assert_eq!(k.reads, k.misses, "{k:?}");
        assert_eq!(got.lookups.reads, k.reads, "{k:?}");
        assert_eq!(k.requests(), n * u64::from(sb.height), "{k:?}");
        assert!(
            k.hits > 0,
            "{dist:?}: the root alone is asked {n} times: {k:?}"
        );
        let (reads, hits) = orch.page_counts();
        assert!(
            reads < n * u64::from(sb.height) && hits > 0,
            "{reads} {hits}"
        );
    }
}

/// A set whose every way is held: `gdio_cache_get` returns after one victim search that finds
/// nothing, rather than stepping on (lanes holding pins release them only once back in their
/// own loop, and on a GPU a subgroup's lanes wait at the loop's end for the one still in it).
/// The asks finish once the ways are let go.
#[test]
fn a_full_set_ends_the_ask_after_one_victim_search() {
    use std::sync::atomic::Ordering::Relaxed;
    let w = world(8);
    // One set of 4 ways, each pinned with a page no lane asks for, as lanes holding pages do.
    let c = cache(&w, 4, 4);
    let layout = c.layout();
    assert_eq!(layout.slots(), 4);
    let words64 = c.meta().words64();
    let base = layout.slot_base() / 2;
    let held = |pins| {
        for s in 0..4u64 {
            words64[base + s as usize]
                .store(SlotWord::new(100 + s, SlotState::Valid, pins).0, Relaxed);
        }
    };
    held(1);
    let lanes = 8u32;
    let asks: Vec<u32> = (0..lanes).collect();
    let r = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            held(0);
        });
        run(&w, &c, 0, lanes, &asks)
    });
    assert_all_read(&r);
    let k = r.counters;
    assert!(k.no_victim > 0, "{k:?}");
    // One victim search per lane per dispatch at most (the shader ends its dispatch on
    // TIMEOUT); stepping on would search up to the step budget (500 on lavapipe) each time.
    assert!(
        k.no_victim <= u64::from(r.dispatches) * u64::from(lanes),
        "{} fruitless victim searches in {} dispatches of {lanes} lanes",
        k.no_victim,
        r.dispatches
    );
}
