//! The doctor report as text.

use std::fmt::Write;

use super::DoctorReport;

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.2} {}", UNITS[unit])
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn opt(v: Option<u64>) -> String {
    v.map(thousands).unwrap_or_else(|| "?".to_string())
}

pub(super) fn table(r: &DoctorReport) -> String {
    let m = &r.model;
    let mut out = String::new();
    let row = |out: &mut String, k: &str, v: String| {
        let _ = writeln!(out, "  {k:<24} {v}");
    };
    let _ = writeln!(out, "Model");
    row(&mut out, "file", m.path.clone());
    if let Some(name) = &m.name {
        row(&mut out, "name", name.clone());
    }
    row(&mut out, "architecture", m.architecture.clone());
    row(&mut out, "parameters (N)", thousands(m.parameters));
    row(&mut out, "quantization", m.quantization.clone());
    row(
        &mut out,
        "bytes/parameter (B)",
        format!(
            "{:.4} ({:.2} bits per weight)",
            m.bytes_per_parameter, m.bits_per_weight
        ),
    );
    row(&mut out, "size S = N x B", human(r.size_bytes));
    row(&mut out, "file size", human(m.file_size));
    row(&mut out, "layers", opt(m.layers));
    row(&mut out, "embedding size", opt(m.embedding_size));
    row(
        &mut out,
        "heads / KV heads",
        format!("{} / {}", opt(m.heads), opt(m.kv_heads)),
    );
    row(&mut out, "head dim", opt(m.head_dim));
    row(&mut out, "training context", opt(m.context_length));
    row(&mut out, "vocabulary", opt(m.vocab_size));
    row(
        &mut out,
        "chat template",
        if m.has_chat_template {
            "yes"
        } else {
            "no (base model: give a template)"
        }
        .to_string(),
    );
    row(&mut out, "size class", m.size_class.to_string());

    let _ = writeln!(out, "\nMemory by use (multiples of S)");
    let _ = writeln!(
        out,
        "  {:<20} {:>12} {:>22}  fits",
        "use", "factor", "memory"
    );
    for u in &r.uses {
        let _ = writeln!(
            out,
            "  {:<20} {:>12} {:>22}  {}",
            u.task,
            format!("{}-{}x", u.low_factor, u.high_factor),
            format!("{} - {}", human(u.low_bytes), human(u.high_bytes)),
            if u.fits { "yes" } else { "no" }
        );
    }

    let i = &r.inference;
    let _ = writeln!(out, "\nInference estimate at ctx {}", thousands(i.ctx));
    row(&mut out, "weights", human(i.weights_bytes));
    row(&mut out, "KV cache (F16)", human(i.kv_cache_bytes));
    row(&mut out, "compute buffer", human(i.compute_buffer_bytes));
    row(
        &mut out,
        "total",
        format!("{} ({:.2} x S)", human(i.total_bytes), i.factor_of_s),
    );

    let mach = &r.machine;
    let _ = writeln!(out, "\nThis machine");
    row(&mut out, "CPU cores", mach.cpu_cores.to_string());
    row(&mut out, "CPU features", mach.cpu_features.join(" "));
    row(
        &mut out,
        "RAM available / total",
        format!(
            "{} / {}",
            human(mach.available_ram_bytes),
            human(mach.total_ram_bytes)
        ),
    );
    if mach.gpus.is_empty() {
        row(&mut out, "GPU", mach.gpu_probe.clone());
    }
    for g in &mach.gpus {
        row(
            &mut out,
            "GPU",
            format!(
                "{} ({} free of {})",
                g.name,
                human(g.free_bytes),
                human(g.total_bytes)
            ),
        );
    }

    let v = &r.verdict;
    let _ = writeln!(
        out,
        "\nVerdict: {}",
        if v.fits { "FITS" } else { "DOES NOT FIT" }
    );
    let _ = writeln!(out, "  {}", v.advice);

    let _ = writeln!(out, "\nPrecision (bytes per parameter, bits per weight)");
    for p in &r.precisions {
        let _ = writeln!(
            out,
            "  {:<11} {:>7.4} B {:>6.2} bpw  {}",
            p.format,
            p.bytes_per_parameter,
            p.bytes_per_parameter * 8.0,
            p.use_for
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_readable() {
        assert_eq!(thousands(134_515_008), "134,515,008");
        assert_eq!(thousands(12), "12");
        assert_eq!(human(512), "512 B");
        assert_eq!(human(3 << 30), "3.00 GiB");
    }
}
