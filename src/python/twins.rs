//! The blocking and the asyncio class of each API surface, generated from one definition.

/// Defines the `#[pymethods]` of a blocking class and of its asyncio twin, one block each:
///
/// - `shared { ... }`: methods copied into both classes as written (constructors, getters,
///   listings that return lazy pages, which are iterators and async iterators at once);
/// - `blocking { ... }` and `asynchronous { ... }`: methods of one class only;
/// - then calls, each written once as `fn name(&self, args) -> Outcome<T> { body }`. The body
///   is an async block's content; `$core` names the shared [`Core`](super::core::Core) in it.
///   It runs on a runtime worker thread and never touches Python: its error becomes an
///   exception only once it is back where the GIL is held. The blocking class's method waits
///   for it with the GIL released and returns `T`; the asyncio class's method returns an
///   awaitable of `T`.
macro_rules! twins {
    (
        $blocking:ident, $asynchronous:ident, $core:ident;
        $(shared { $($shared:tt)* })?
        $(blocking { $($blocking_only:tt)* })?
        $(asynchronous { $($asynchronous_only:tt)* })?
        $(
            $(#[$attribute:meta])*
            fn $name:ident(&self $(, $argument:ident : $type:ty)*) -> Outcome<$output:ty> $body:block
        )*
    ) => {
        #[pyo3::pymethods]
        impl $blocking {
            $($($shared)*)?
            $($($blocking_only)*)?
            $(
                $(#[$attribute])*
                #[allow(clippy::too_many_arguments)]
                fn $name(&self, py: pyo3::Python<'_> $(, $argument: $type)*) -> pyo3::PyResult<$output> {
                    let $core = std::sync::Arc::clone(&self.core);
                    $core.check()?;
                    let outcome: $crate::python::errors::Outcome<$output> =
                        $crate::python::runtime::block_on(py, async move { $body })?;
                    outcome.map_err(pyo3::PyErr::from)
                }
            )*
        }

        #[pyo3::pymethods]
        impl $asynchronous {
            $($($shared)*)?
            $($($asynchronous_only)*)?
            $(
                $(#[$attribute])*
                #[allow(clippy::too_many_arguments)]
                fn $name<'py>(
                    &self,
                    py: pyo3::Python<'py> $(, $argument: $type)*
                ) -> pyo3::PyResult<pyo3::Bound<'py, pyo3::PyAny>> {
                    let $core = std::sync::Arc::clone(&self.core);
                    $core.check()?;
                    $crate::python::runtime::awaitable::<_, $output>(py, async move { $body })
                }
            )*
        }
    };
}

/// Declares the frozen classes that hold a client's [`Core`](super::core::Core), each made
/// from one with `From<Arc<Core>>`.
macro_rules! holders {
    ($($name:ident, $python_name:literal, $doc:literal;)*) => {
        $(
            #[doc = $doc]
            #[pyo3::pyclass(module = "okta_lifecycle._core", name = $python_name, frozen)]
            pub(crate) struct $name {
                pub(crate) core: std::sync::Arc<$crate::python::core::Core>,
            }

            impl From<std::sync::Arc<$crate::python::core::Core>> for $name {
                fn from(core: std::sync::Arc<$crate::python::core::Core>) -> Self {
                    $name { core }
                }
            }
        )*
    };
}

pub(crate) use {holders, twins};
