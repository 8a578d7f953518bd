//! Taking a lock also after a thread panicked while holding it: the simulator's state stays
//! usable, as a real org's would.

use std::sync::Mutex;

/// The mutex's guard, poisoned or not.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}
