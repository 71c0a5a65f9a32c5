//! The checker's depth-first continuation (`check.rs`): when a breadth-first level would hold
//! more machines than `Bounds::max_frontier`, every state held is explored depth-first instead,
//! with the same set of states seen. Memory then grows with the states seen (a fingerprint
//! each) and the length of the current path, not with the width of a level. Every reachable
//! state is still explored (it is reachable from a state held, or was seen before), so `safe`
//! is as sound; only a counterexample found this way is not always a shortest one.
//!
//! A depth-first path in these machines gets long (millions of steps for tens of millions of
//! states), so the path does not keep a machine for every state on it: only for the last
//! `WINDOW` states and for every `EVERY`-th one below. The transitions still to run are one
//! stack for the whole path. A state whose machine was dropped is rebuilt, when the search
//! backs up to it, from the nearest state below that has one (at worst the checkpoint) by
//! running the path's steps again in one machine (the transitions are deterministic given
//! their choices); the states between that still have transitions to run get a copy on the
//! way, and are then the last ones of the path.
//!
//! A state's last transition runs in the state's own machine instead of a copy (the state
//! is not needed after it), unless the state is a checkpoint. If that transition leaves more
//! to run from the state (the other outcomes of a choice it made), the state's machine is
//! rebuilt the same way.

use super::level::Roots;
use super::{Bounds, End, Failure, Search, Step, Todo, Verdict, ending};
use crate::engine::Engine;
use crate::error::{SimError, StopReason};

/// A state to explore from: its level, its breadth-first index, the machine.
pub(super) type Root = (u32, u32, Box<Engine>);

/// How the depth-first search ended, and one more than the deepest level it expanded: the
/// levels it went through, counted as the breadth-first search counts the levels it completed
/// (at most `Bounds::max_depth`: a state at that level is reached but not expanded).
pub(super) struct DfsEnd {
    pub end: End,
    pub deepest: u32,
}

/// The states at the end of the path that keep their machine.
const WINDOW: usize = 256;
/// Below them, every `EVERY`-th state on the path keeps its machine (a checkpoint). Not more
/// than `WINDOW`, so that the states a rebuild restores are all in the window.
const EVERY: usize = 256;

/// One state on the path: the step that reached it, the machine (None if dropped, see the
/// module docs), and where its transitions still to run begin in the search's todo stack
/// (they end where the next state's begin). A state takes some 50 bytes besides.
struct Frame {
    step: Option<Step>,
    engine: Option<Box<Engine>>,
    todo_from: usize,
}

/// Drop the machine of the state that has just left the window, unless it is a checkpoint.
fn thin(s: &mut Search, stack: &mut [Frame]) {
    let n = stack.len();
    if n > WINDOW && (n - 1 - WINDOW) % EVERY != 0 {
        if let Some(e) = stack[n - 1 - WINDOW].engine.take() {
            s.recycle(e);
        }
    }
}

/// Rebuild the machine of the state at the top of the path, from the highest state below that
/// has one (at worst the last checkpoint), by running the path's steps in one machine. The
/// states on the way get a machine of their own only if they still have transitions to run
/// (a state thinned out of the window); a state whose last transition ran in its own machine
/// has none left, and is popped without one.
fn rebuild(s: &mut Search, stack: &mut [Frame]) {
    let top = stack.len() - 1;
    let base = (0..top)
        .rev()
        .find(|&i| stack[i].engine.is_some())
        .expect("checkpoints keep their machine");
    let mut e = s.copy(stack[base].engine.as_ref().expect("found with one"));
    for i in base + 1..=top {
        let step = stack[i].step.as_ref().expect("not a root");
        let res =
            crate::rng::with_script_into(&step.choices, &mut s.st.made, || e.fire(step.event));
        debug_assert!(res.is_ok(), "the step ran without error the first time");
        if i < top && stack[i + 1].todo_from > stack[i].todo_from {
            stack[i].engine = Some(s.copy(&e));
        }
    }
    stack[top].engine = Some(e);
}

/// The path from the breadth-first state `idx` along `stack`, then `last`, then `f`'s step.
fn path(s: &Search, idx: u32, stack: &[Frame], last: Option<Step>, f: &Failure) -> Vec<Step> {
    let mut path = s.path(idx);
    path.extend(stack.iter().filter_map(|fr| fr.step.clone()));
    path.extend(last);
    ending(path, f)
}

/// Explore everything reachable from `roots` depth-first (module docs).
pub(super) fn depth_first(
    s: &mut Search,
    mut roots: Roots,
    bounds: &Bounds,
    poll: &mut dyn FnMut() -> Option<StopReason>,
) -> Result<DfsEnd, SimError> {
    s.indexed = false;
    let mut deepest = 0;
    let mut cut = false;
    // The transitions still to run, of every state on the path, the last state's on top.
    let mut todo: Vec<Todo> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let found = |end, deepest| Ok(DfsEnd { end, deepest });
    // Roots are taken from the end: the next level's states first, each one's subtree whole.
    while let Some((level, idx, mut engine)) = roots.pop(|like| s.copy(like)) {
        // A root at the bound (the next level's, when the switch came at the last level
        // within it) is reached, not expanded, as the breadth-first search leaves it.
        if level >= bounds.max_depth {
            cut = true;
            s.recycle(engine);
            continue;
        }
        if let Err(f) = s.transitions_from(&mut engine, &mut todo) {
            return found(End::Found(path(s, idx, &[], None, &f), f), level + 1);
        }
        deepest = deepest.max(level + 1);
        stack.push(Frame {
            step: None,
            engine: Some(engine),
            todo_from: 0,
        });
        while let Some(n) = stack.len().checked_sub(1) {
            // Every turn, not only at new states: a run of transitions to states seen before
            // is polled too.
            if let Some(reason) = s.due().then(&mut *poll).flatten() {
                let cycle = deepest as u64;
                return Err(SimError::Interrupted { cycle, reason });
            }
            let top = &mut stack[n];
            if todo.len() == top.todo_from {
                let done = stack.pop().expect("a frame");
                if let Some(e) = done.engine {
                    s.recycle(e);
                }
                continue;
            }
            if top.engine.is_none() {
                rebuild(s, &mut stack);
                continue;
            }
            let t = todo.pop().expect("a transition to run");
            // The state's last transition runs in the state's own machine (no copy), unless
            // it is a checkpoint. Should the transition leave more to run (outcomes of choices
            // past its own), the machine is rebuilt from the one below when needed.
            let last = todo.len() == top.todo_from && n % EVERY != 0;
            let ran = if last {
                let here = top.engine.take().expect("rebuilt");
                s.transition_in(here, idx, t, &mut todo)
            } else {
                let here = top.engine.as_ref().expect("rebuilt");
                s.transition(here, idx, t, &mut todo)
            };
            let child = match ran {
                Ok(Some(child)) => child,
                // A state past the bound is met here, not admitted.
                Ok(None) if s.full() => return found(End::Done(Verdict::BoundReached), deepest),
                Ok(None) => continue,
                Err(f) => return found(End::Found(path(s, idx, &stack, None, &f), f), deepest),
            };
            let child_level = level + stack.len() as u32;
            if child_level >= bounds.max_depth {
                cut = true;
                s.recycle(child.engine);
                continue;
            }
            let mut engine = child.engine;
            let todo_from = todo.len();
            if let Err(f) = s.transitions_from(&mut engine, &mut todo) {
                let p = path(s, idx, &stack, child.step, &f);
                return found(End::Found(p, f), deepest);
            }
            deepest = deepest.max(child_level + 1);
            debug_assert!(child.step.is_some(), "a depth-first state keeps its step");
            stack.push(Frame {
                step: child.step,
                engine: Some(engine),
                todo_from,
            });
            thin(s, &mut stack);
        }
    }
    let verdict = if cut {
        Verdict::BoundReached
    } else {
        Verdict::Safe
    };
    found(End::Done(verdict), deepest)
}
