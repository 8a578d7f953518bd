//! Lazy listings for Python: each is both an iterator (blocking, one page at a time) and an
//! async iterator.

use std::sync::Arc;

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;

use crate::python::errors::convert;
use crate::python::runtime::{awaitable, block_on};
use pyo3::PyErr;

macro_rules! pages {
    ($name:ident, $python_name:literal, $item:ty) => {
        #[doc = concat!("A lazy listing of ", stringify!($item), "s: iterate it, or `async for` over it.")]
        #[pyclass(module = "okta_lifecycle._core", name = $python_name)]
        pub(crate) struct $name {
            stream: Arc<tokio::sync::Mutex<BoxStream<'static, crate::Result<$item>>>>,
        }

        impl $name {
            pub(crate) fn new(stream: BoxStream<'static, crate::Result<$item>>) -> Self {
                $name { stream: Arc::new(tokio::sync::Mutex::new(stream)) }
            }
        }

        #[pymethods]
        impl $name {
            fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
                slf
            }

            fn __next__(&self, py: Python<'_>) -> PyResult<Option<$item>> {
                let stream = Arc::clone(&self.stream);
                let next = block_on(py, async move { stream.lock().await.next().await })?;
                next.map(convert).transpose().map_err(PyErr::from)
            }

            fn __aiter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
                slf
            }

            fn __anext__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
                let stream = Arc::clone(&self.stream);
                awaitable(py, async move {
                    match stream.lock().await.next().await {
                        Some(item) => convert(item),
                        None => Err(PyStopAsyncIteration::new_err(()).into()),
                    }
                })
            }
        }
    };
}

pages!(UserPages, "UserPages", crate::python::models::PyUser);
pages!(GroupPages, "GroupPages", crate::python::models::PyGroup);
pages!(IdentityEvents, "IdentityEvents", crate::python::models::PyIdentityEvent);
pages!(IdentityChanges, "IdentityChanges", crate::python::models::PyIdentityChange);
