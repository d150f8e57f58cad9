//! Resumable checkpoints: all weights, the optimiser moments and the loop's position, written
//! into a fresh folder that replaces the previous one by renames (never half-written).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::data::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::model::save::{save_f32_slices, save_safetensors, NamedSlice};

/// Where the loop stands, saved with every checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct TrainerState {
    /// Optimiser steps taken.
    pub global_step: u64,
    /// Current epoch (0-based).
    pub epoch: u64,
    /// Micro-batches of the current epoch already consumed.
    pub batches_done: usize,
    /// Best value of the selection metric so far.
    pub best_metric: Option<f64>,
    /// Step of the best evaluation.
    pub best_step: u64,
    /// Evaluations since the best one (for early stopping).
    pub stale_evaluations: usize,
    /// Sum of training losses since the last log, and how many.
    pub running_loss: (f64, u64),
    /// Seconds of training before this checkpoint (for throughput and ETA).
    pub elapsed_seconds: f64,
    /// Whether training has finished (all steps or early stop).
    pub finished: bool,
}

/// The folder of the last checkpoint inside an output folder.
pub fn checkpoint_dir(output: &Path) -> PathBuf {
    output.join("checkpoint-last")
}

/// Writes weights, optimiser moments and state into `output/checkpoint-last`.
pub fn save(
    output: &Path,
    vars: &[(String, Var)],
    optimizer: &[NamedSlice],
    state: &TrainerState,
) -> Result<()> {
    let final_dir = checkpoint_dir(output);
    let tmp = output.join(format!("checkpoint-last.tmp-{}", std::process::id()));
    let old = output.join("checkpoint-last.old");
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let weights: HashMap<String, Tensor> = vars
        .iter()
        .map(|(n, v)| (n.clone(), v.as_tensor().clone()))
        .collect();
    save_safetensors(&weights, &tmp.join("model.safetensors"))?;
    save_f32_slices(optimizer, &tmp.join("optimizer.safetensors"))?;
    let json = serde_json::to_string_pretty(state).map_err(|e| Error::Invalid(e.to_string()))?;
    write_atomic(&tmp.join("trainer_state.json"), json.as_bytes())?;
    let _ = std::fs::remove_dir_all(&old);
    if final_dir.exists() {
        std::fs::rename(&final_dir, &old).map_err(|e| Error::io(&final_dir, e))?;
    }
    std::fs::rename(&tmp, &final_dir).map_err(|e| Error::io(&final_dir, e))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// A loaded checkpoint.
pub struct Loaded {
    /// The loop's position.
    pub state: TrainerState,
    /// Weights by name.
    pub weights: HashMap<String, Tensor>,
    /// Optimiser moments by name.
    pub optimizer: HashMap<String, Tensor>,
}

/// Reads the last checkpoint of `output`, if any (falling back to the previous one when a crash
/// came between the two renames of [`save`]).
pub fn load(output: &Path) -> Result<Option<Loaded>> {
    let dir = [checkpoint_dir(output), output.join("checkpoint-last.old")]
        .into_iter()
        .find(|d| d.join("trainer_state.json").is_file());
    let Some(dir) = dir else { return Ok(None) };
    let state_path = dir.join("trainer_state.json");
    let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
    let state: TrainerState = serde_json::from_str(&text)
        .map_err(|e| Error::format(&state_path, e.line(), e.to_string()))?;
    let read = |name: &str| {
        let p = dir.join(name);
        candle_core::safetensors::load(&p, &candle_core::Device::Cpu)
            .map_err(|e| Error::model(&p, e.to_string()))
    };
    Ok(Some(Loaded {
        state,
        weights: read("model.safetensors")?,
        optimizer: read("optimizer.safetensors")?,
    }))
}

/// Copies checkpoint weights into the model's variables.
pub fn restore_weights(vars: &[(String, Var)], weights: &HashMap<String, Tensor>) -> Result<()> {
    for (name, var) in vars {
        let t = weights
            .get(name)
            .ok_or_else(|| Error::Invalid(format!("checkpoint has no tensor {name}")))?;
        var.set(t)
            .map_err(|e| Error::Invalid(format!("checkpoint tensor {name}: {e}")))?;
    }
    Ok(())
}
