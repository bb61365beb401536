//! Locks that outlive a panic: the state behind them is only replaced whole, never left half
//! changed, so a poisoned lock is still safe to use.
//!
//! Every lock is taken with the GIL released (inside `Python::detach`), so that a thread
//! waiting for a lock never holds the GIL that the lock's holder may need.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

pub fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

pub fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}
