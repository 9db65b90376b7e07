//! The per-transaction loops of the online store's reads, for the scoring service.
//!
//! `pack_commands` writes a batch's Redis commands as one RESP payload (hiredis packed
//! them one Python call each). `window_sums` and `known_frauds` count the replies: each
//! is one transaction's `ZRANGEBYSCORE` of one entity's window set, members
//! `<event_us>:<transaction_id>:<value>` in event-time order; per transaction and range,
//! the members whose event time lies in `[t - start, t - end)` — without a Python object
//! per number. What the store holds and what the features mean stay in
//! `fraudlake.online` and `fraudlake.stream_features`; this crate only counts.

use std::io::Write;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyInt, PyList, PyString, PyTuple};

/// Append one RESP bulk string.
fn push_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    write!(out, "${}\r\n", bytes.len()).expect("writing to a Vec cannot fail");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// The RESP payload of `commands` (each a tuple of str, bytes or int arguments, the
/// command name first), in order: what `hiredis.pack_command` gives per command, joined.
/// str is written as UTF-8, int in decimal. TypeError naming any other argument.
#[pyfunction]
fn pack_commands<'py>(
    py: Python<'py>,
    commands: &Bound<'py, PyList>,
) -> PyResult<Bound<'py, PyBytes>> {
    let mut out: Vec<u8> = Vec::with_capacity(commands.len() * 64);
    for command in commands.iter() {
        let args = command.cast::<PyTuple>()?;
        write!(out, "*{}\r\n", args.len()).expect("writing to a Vec cannot fail");
        for arg in args.iter() {
            if let Ok(text) = arg.cast::<PyString>() {
                push_bulk(&mut out, text.to_str()?.as_bytes());
            } else if let Ok(raw) = arg.cast::<PyBytes>() {
                push_bulk(&mut out, raw.as_bytes());
            } else if arg.cast::<PyInt>().is_ok() {
                let number: i64 = arg.extract()?;
                push_bulk(&mut out, number.to_string().as_bytes());
            } else {
                return Err(PyTypeError::new_err(format!(
                    "a Redis command argument must be str, bytes or int, got {}: {}",
                    arg.get_type().name()?,
                    arg.repr()?
                )));
            }
        }
    }
    Ok(PyBytes::new(py, &out))
}

/// `(event_us, value)` of a member, or None when it is not three `:`-separated integers.
fn parse_member(member: &[u8]) -> Option<(i64, i64)> {
    let mut fields = [0i64; 3];
    let mut field = 0;
    let mut acc: i64 = 0;
    let mut digits = false;
    let mut negative = false;
    for &byte in member {
        match byte {
            b'0'..=b'9' => {
                acc = acc.checked_mul(10)?.checked_add(i64::from(byte - b'0'))?;
                digits = true;
            }
            b'-' if !digits && !negative => negative = true,
            b':' if digits && field < 2 => {
                fields[field] = if negative { -acc } else { acc };
                field += 1;
                (acc, digits, negative) = (0, false, false);
            }
            _ => return None,
        }
    }
    if !digits || field != 2 {
        return None;
    }
    fields[2] = if negative { -acc } else { acc };
    Some((fields[0], fields[2]))
}

/// Parse the members of each of the `n` replies (one buffer, reused) and hand them to
/// `each` with the transaction's index. TypeError for a reply that is not a list of
/// bytes; ValueError(member) for a member that is not `<event_us>:<id>:<integer>`.
fn for_each_reply<'py>(
    replies: &Bound<'py, PyList>,
    n: usize,
    mut each: impl FnMut(usize, &[(i64, i64)]),
) -> PyResult<()> {
    if replies.len() != n {
        return Err(PyValueError::new_err(format!(
            "{} replies for {} transactions",
            replies.len(),
            n
        )));
    }
    let mut parsed: Vec<(i64, i64)> = Vec::with_capacity(64);
    for (i, reply) in replies.iter().enumerate() {
        let members = reply.cast::<PyList>()?;
        parsed.clear();
        for member in members.iter() {
            let bytes = member.cast::<PyBytes>()?.as_bytes();
            match parse_member(bytes) {
                Some(fields) => parsed.push(fields),
                // the member itself as the error's argument: the caller words the message
                None => {
                    return Err(PyValueError::new_err(
                        PyBytes::new(replies.py(), bytes).unbind(),
                    ));
                }
            }
        }
        each(i, &parsed);
    }
    Ok(())
}

/// `values` as native-endian int64 bytes (what `numpy.frombuffer(..., int64)` reads).
fn int64_bytes<'py>(py: Python<'py>, values: &[i64]) -> Bound<'py, PyBytes> {
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_ne_bytes()).collect();
    PyBytes::new(py, &raw)
}

/// For transaction `i` at `t[i]` and each `(start, end)` of `ranges`: the count and the
/// sum of the values of the members of `replies[i]` with event time in
/// `[t[i] - start, t[i] - end)`. Native-endian int64 bytes, row `i` holding
/// `count_0, sum_0, count_1, sum_1, ...`. A member that is not one raises ValueError(member).
#[pyfunction]
fn window_sums<'py>(
    py: Python<'py>,
    t: Vec<i64>,
    replies: &Bound<'py, PyList>,
    ranges: Vec<(i64, i64)>,
) -> PyResult<Bound<'py, PyBytes>> {
    let width = 2 * ranges.len();
    let mut out = vec![0i64; t.len() * width];
    for_each_reply(replies, t.len(), |i, members| {
        let row = &mut out[i * width..(i + 1) * width];
        for (k, &(start, end)) in ranges.iter().enumerate() {
            let (low, high) = (t[i] - start, t[i] - end);
            let (mut count, mut sum) = (0i64, 0i64);
            for &(time, value) in members {
                if time >= low && time < high {
                    count += 1;
                    sum += value;
                }
            }
            row[2 * k] = count;
            row[2 * k + 1] = sum;
        }
    })?;
    Ok(int64_bytes(py, &out))
}

/// For transaction `i` at `t[i]` and each `(start, end)` of `ranges`: how many members
/// of `replies[i]` (frauds: the value is when the fraud was reported) have event time in
/// `[t[i] - start, t[i] - end)` and were reported before `t[i]`. Native-endian int64
/// bytes, one row per transaction. A member that is not one raises ValueError(member).
#[pyfunction]
fn known_frauds<'py>(
    py: Python<'py>,
    t: Vec<i64>,
    replies: &Bound<'py, PyList>,
    ranges: Vec<(i64, i64)>,
) -> PyResult<Bound<'py, PyBytes>> {
    let width = ranges.len();
    let mut out = vec![0i64; t.len() * width];
    for_each_reply(replies, t.len(), |i, members| {
        for (k, &(start, end)) in ranges.iter().enumerate() {
            let (low, high) = (t[i] - start, t[i] - end);
            out[i * width + k] = members
                .iter()
                .filter(|&&(time, reported)| time >= low && time < high && reported < t[i])
                .count() as i64;
        }
    })?;
    Ok(int64_bytes(py, &out))
}

#[pymodule]
fn fraudlake_online_reads(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(pack_commands, module)?)?;
    module.add_function(wrap_pyfunction!(window_sums, module)?)?;
    module.add_function(wrap_pyfunction!(known_frauds, module)?)?;
    Ok(())
}
