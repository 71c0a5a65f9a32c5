//! The transition rules of a CPU's program, one per phase (docs/model.md, sections 3, 4 and 16).

/// Where a CPU's program goes next, when its current stretch of time (`Cpu::until`) ends or the
/// thing it waits for happens. One variant per transition rule of `docs/model.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Run the task's next program step.
    NextOp,
    /// The TLB refill owed since a full flush is paid: the work itself runs.
    Refilled,
    WorkDone,
    IrqLockGranted,
    IrqHoldDone,
    KmapGranted,
    KmapMapped,
    ScanResume,
    FlushBegin,
    FlushScanDone,
    CallLockGranted,
    IpiSent,
    /// `concurrent`: the flusher's own flush, done while its IPIs are in flight, is over.
    ConcurrentFlushed,
    /// `broadcast`: the hardware invalidation has completed everywhere.
    BroadcastDone,
    /// `defer`: the slot to reuse was cleared in a generation some CPU may not have flushed.
    DeferReuse,
    /// `defer`: some other CPU has not: IPIs to them under `call_lock`.
    DeferFlush,
    AsyncSent,
    AcksDone,
    LocalFlushDone,
    MapSet,
    LocalMapped,
    CopyLookup,
    CopyRun,
    CopyStepDone,
    KunmapGranted,
    KunmapDone,
    LocalUnmapped,
    SleepBegin,
    /// An idle CPU was given a task: switch it in.
    SwitchIn,
    KmapRetry,
    /// `lazy`: caught up with the flush generation before `spin_lock(&kmap_lock)`.
    CaughtUp,
    /// The IPI handler in progress ends (the interrupted program is in `Cpu::saved`).
    HandlerEnd,
}

// SAFETY: a field-less enum.
crate::pack::plain!(unsafe Phase);
