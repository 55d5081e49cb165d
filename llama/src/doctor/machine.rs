//! What this machine has: cores, RAM, GPUs (through `nvidia-smi`), CPU features.

use serde::Serialize;

/// One GPU.
#[derive(Debug, Clone, Serialize)]
pub struct Gpu {
    /// Product name.
    pub name: String,
    /// Total memory in bytes.
    pub total_bytes: u64,
    /// Free memory in bytes.
    pub free_bytes: u64,
}

/// This machine's resources.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// Logical CPU cores.
    pub cpu_cores: usize,
    /// Total RAM in bytes.
    pub total_ram_bytes: u64,
    /// RAM available to a new process, in bytes.
    pub available_ram_bytes: u64,
    /// GPUs found.
    pub gpus: Vec<Gpu>,
    /// How GPUs were looked for, and what happened.
    pub gpu_probe: String,
    /// SIMD features of the CPU that matter to llama.cpp.
    pub cpu_features: Vec<&'static str>,
}

impl Machine {
    /// Reads this machine's resources.
    pub fn detect() -> Self {
        let mut sys = sysinfo::System::new();
        sys.refresh_memory();
        let (gpus, gpu_probe) = detect_gpus();
        Self {
            cpu_cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            total_ram_bytes: sys.total_memory(),
            available_ram_bytes: sys.available_memory(),
            gpus,
            gpu_probe,
            cpu_features: cpu_features(),
        }
    }
}

fn detect_gpus() -> (Vec<Gpu>, String) {
    let output = std::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,memory.total,memory.free",
            "--format=csv,noheader,nounits",
        ])
        .output();
    match output {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
            Vec::new(),
            "nvidia-smi not found: no NVIDIA GPU".to_string(),
        ),
        Err(e) => (Vec::new(), format!("nvidia-smi could not run: {e}")),
        Ok(out) if !out.status.success() => (
            Vec::new(),
            format!(
                "nvidia-smi failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ),
        Ok(out) => {
            let gpus = parse_nvidia_smi(&String::from_utf8_lossy(&out.stdout));
            let probe = format!("nvidia-smi: {} GPU(s)", gpus.len());
            (gpus, probe)
        }
    }
}

/// Parses `nvidia-smi --query-gpu=name,memory.total,memory.free
/// --format=csv,noheader,nounits` (MiB values).
pub(crate) fn parse_nvidia_smi(text: &str) -> Vec<Gpu> {
    text.lines()
        .filter_map(|line| {
            let mut cols = line.rsplitn(3, ',').map(str::trim);
            let free: u64 = cols.next()?.parse().ok()?;
            let total: u64 = cols.next()?.parse().ok()?;
            let name = cols.next()?.to_string();
            Some(Gpu {
                name,
                total_bytes: total << 20,
                free_bytes: free << 20,
            })
        })
        .collect()
}

fn cpu_features() -> Vec<&'static str> {
    #[allow(unused_mut)]
    let mut found = Vec::new();
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") {
            found.push("avx2");
        }
        if std::is_x86_feature_detected!("fma") {
            found.push("fma");
        }
        if std::is_x86_feature_detected!("f16c") {
            found.push("f16c");
        }
        if std::is_x86_feature_detected!("avx512f") {
            found.push("avx512f");
        }
        if std::is_x86_feature_detected!("avx512vnni") {
            found.push("avx512vnni");
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            found.push("neon");
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nvidia_smi_csv() {
        let gpus =
            parse_nvidia_smi("NVIDIA H200, 143771, 143000\nTesla T4, 15360, 100\nbad line\n");
        assert_eq!(gpus.len(), 2);
        assert_eq!(gpus[0].name, "NVIDIA H200");
        assert_eq!(gpus[0].total_bytes, 143771 << 20);
        assert_eq!(gpus[1].free_bytes, 100 << 20);
    }

    #[test]
    fn detects_some_ram() {
        let m = Machine::detect();
        assert!(m.total_ram_bytes > 0);
        assert!(m.available_ram_bytes <= m.total_ram_bytes);
        assert!(m.cpu_cores >= 1);
    }
}
