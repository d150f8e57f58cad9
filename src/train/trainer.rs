//! The training loop shared by every task: micro-batches by token budget, gradient accumulation,
//! AdamW with warmup and decay, clipping, periodic evaluation, early stopping, best-model saving,
//! resumable checkpoints, a progress bar and a JSON Lines log.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::backprop::GradStore;
use serde::{Deserialize, Serialize};

use super::batches::{rng_for, BatchPlan};
use super::checkpoint::{self, TrainerState};
use super::optim::{AdamW, AdamWConfig};
use super::schedule::{Decay, Schedule};
use super::task::Task;
use crate::data::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::model::{DropoutRng, Mode};

/// When to evaluate on the dev set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalStrategy {
    /// Every N optimiser steps.
    Steps(u64),
    /// At the end of each epoch.
    Epoch,
    /// Never (no dev set): the model is saved at the end of each epoch and of training, and
    /// the last one is the result, as transformers' `Trainer` does without `eval_dataset`.
    No,
}

/// The knobs of a training run (transformers `TrainingArguments` names).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Output folder: the best model, `checkpoint-last/`, `log.jsonl`.
    pub output_dir: PathBuf,
    /// Passes over the training data (fractions allowed).
    pub num_train_epochs: f64,
    /// Stop after this many optimiser steps (overrides epochs).
    pub max_steps: Option<u64>,
    /// Peak learning rate.
    pub learning_rate: f64,
    /// Share of steps spent warming up.
    pub warmup_ratio: f64,
    /// Decay after warmup.
    pub lr_scheduler: Decay,
    /// AdamW settings (weight decay, betas, lazy embeddings).
    pub adamw: AdamWConfig,
    /// Global gradient-norm clip (0 = off).
    pub max_grad_norm: f64,
    /// Micro-batches per optimiser step.
    pub gradient_accumulation_steps: usize,
    /// Micro-batch shape.
    pub batches: BatchPlan,
    /// Seed of data order, dropout and new heads.
    pub seed: u64,
    /// When to evaluate.
    pub eval: EvalStrategy,
    /// Metric that picks the best model (a key of `Task::evaluate`).
    pub metric_for_best_model: String,
    /// Stop after this many evaluations without improvement.
    pub early_stopping_patience: Option<usize>,
    /// Write a resumable checkpoint every N steps (besides each evaluation).
    pub save_steps: Option<u64>,
}

/// What a finished run reports.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSummary {
    /// Optimiser steps taken in total.
    pub steps: u64,
    /// Best value of the selection metric.
    pub best_metric: Option<f64>,
    /// Step of the best evaluation.
    pub best_step: u64,
    /// Wall time of training (all sessions of a resumed run).
    pub train_seconds: f64,
    /// Why the loop ended.
    pub stopped_by: String,
}

/// One line of `log.jsonl`.
#[derive(Debug, Serialize)]
struct LogLine<'a> {
    step: u64,
    epoch: f64,
    loss: f64,
    learning_rate: f64,
    grad_norm: f64,
    elapsed_seconds: f64,
    metrics: &'a std::collections::BTreeMap<String, f64>,
}

/// Adds `more` into `acc` (gradient accumulation).
fn accumulate(
    acc: &mut Option<GradStore>,
    more: GradStore,
    vars: &[(String, candle_core::Var)],
) -> Result<()> {
    match acc {
        None => *acc = Some(more),
        Some(a) => {
            for (_, v) in vars {
                if let Some(g) = more.get(v.as_tensor()) {
                    let sum = match a.get(v.as_tensor()) {
                        Some(prev) => (prev + g)?,
                        None => g.clone(),
                    };
                    a.insert(v.as_tensor(), sum);
                }
            }
        }
    }
    Ok(())
}

/// Runs (or resumes) training of `task` as `cfg` says.
pub fn train(task: &dyn Task, cfg: &TrainConfig, resume: bool) -> Result<TrainSummary> {
    std::fs::create_dir_all(&cfg.output_dir).map_err(|e| Error::io(&cfg.output_dir, e))?;
    let lengths = task.train_lengths();
    if lengths.is_empty() {
        return Err(Error::Invalid("no training examples".into()));
    }
    let accum = cfg.gradient_accumulation_steps.max(1);
    let epoch_batches = |e: u64| cfg.batches.epoch(lengths, cfg.seed, e);
    let steps_per_epoch = epoch_batches(0).len().div_ceil(accum) as u64;
    let total_steps = cfg
        .max_steps
        .unwrap_or(((cfg.num_train_epochs * steps_per_epoch as f64).ceil() as u64).max(1));
    let schedule = Schedule {
        peak: cfg.learning_rate,
        warmup: (cfg.warmup_ratio * total_steps as f64).ceil() as u64,
        total: total_steps,
        decay: cfg.lr_scheduler,
    };
    let trainable = task.variables();
    let all_vars = task.all_variables();
    let mut optimizer = AdamW::new(trainable.clone(), cfg.adamw);
    let mut state = TrainerState::default();
    if resume {
        if let Some(ck) = checkpoint::load(&cfg.output_dir)? {
            checkpoint::restore_weights(&all_vars, &ck.weights)?;
            optimizer.load_state(&ck.optimizer, ck.state.global_step)?;
            state = ck.state;
            eprintln!(
                "naba: resumed from {} at step {}",
                checkpoint::checkpoint_dir(&cfg.output_dir).display(),
                state.global_step
            );
        }
    }
    let args = serde_json::to_string_pretty(cfg).map_err(|e| Error::Invalid(e.to_string()))?;
    write_atomic(&cfg.output_dir.join("training_args.json"), args.as_bytes())?;
    let log_path = cfg.output_dir.join("log.jsonl");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| Error::io(&log_path, e))?;

    let bar = indicatif::ProgressBar::new(total_steps);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} steps (eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_position(state.global_step);
    let dropout = DropoutRng::new(cfg.seed);
    let session_start = Instant::now();
    let elapsed_before = state.elapsed_seconds;
    let mut tokens_seen = 0usize;
    let mut last_grad_norm = 0.0;
    let mut stopped_by = "max steps".to_string();
    let save_checkpoint = |state: &mut TrainerState, optimizer: &AdamW| -> Result<()> {
        state.elapsed_seconds = elapsed_before + session_start.elapsed().as_secs_f64();
        checkpoint::save(&cfg.output_dir, &all_vars, &optimizer.moments(), state)
    };

    'epochs: while !state.finished && state.global_step < total_steps {
        let batches = epoch_batches(state.epoch);
        while state.batches_done < batches.len() && state.global_step < total_steps {
            let group_end = (state.batches_done + accum).min(batches.len());
            let mut grads: Option<GradStore> = None;
            let mut row_grads = Vec::new();
            let scale = 1.0 / (group_end - state.batches_done) as f64;
            for (b, indices) in batches
                .iter()
                .enumerate()
                .take(group_end)
                .skip(state.batches_done)
            {
                dropout.reseed(rng_seed(cfg.seed, state.epoch, b));
                let (loss, tokens) = task.loss(indices, &Mode::Train(&dropout))?;
                let value = loss.to_scalar::<f32>()? as f64;
                if !value.is_finite() {
                    return Err(Error::Invalid(format!(
                        "loss became {value} at step {}; lower --learning-rate",
                        state.global_step
                    )));
                }
                state.running_loss.0 += value * scale;
                let micro = (loss * scale)?.backward()?;
                if let Some(rows) = task.word_rows() {
                    row_grads.extend(rows.take_grads(&micro)?);
                }
                accumulate(&mut grads, micro, &trainable)?;
                tokens_seen += tokens;
            }
            state.running_loss.1 += 1;
            let lr = schedule.lr(state.global_step);
            if let Some(g) = grads {
                last_grad_norm = optimizer.step(&g, &row_grads, lr, cfg.max_grad_norm)?;
            }
            state.global_step += 1;
            state.batches_done = group_end;
            bar.set_position(state.global_step);
            let secs = session_start.elapsed().as_secs_f64().max(1e-9);
            let message = format!(
                "loss {:.4} lr {:.2e} {:.0} tok/s",
                state.running_loss.0 / state.running_loss.1.max(1) as f64,
                lr,
                tokens_seen as f64 / secs
            );
            if bar.is_hidden() && state.global_step % 10 == 0 {
                // no terminal (logs, CI): a plain line every 10 steps instead of the bar
                eprintln!("naba: step {}/{total_steps} {message}", state.global_step);
            }
            bar.set_message(message);
            let end_of_epoch = state.batches_done >= batches.len();
            let eval_now = match cfg.eval {
                EvalStrategy::Steps(n) => state.global_step % n.max(1) == 0,
                EvalStrategy::Epoch | EvalStrategy::No => end_of_epoch,
            } || state.global_step >= total_steps;
            if eval_now && cfg.eval == EvalStrategy::No {
                bar.suspend(|| eprintln!("naba: saving the model at step {}", state.global_step));
                state.best_step = state.global_step;
                task.save_model(&cfg.output_dir)?;
                save_checkpoint(&mut state, &optimizer)?;
            } else if eval_now {
                bar.suspend(|| eprintln!("naba: evaluating at step {} ...", state.global_step));
                let metrics = task.evaluate()?;
                let value = *metrics.get(&cfg.metric_for_best_model).ok_or_else(|| {
                    Error::Invalid(format!(
                        "metric {:?} not among {:?}",
                        cfg.metric_for_best_model,
                        metrics.keys().collect::<Vec<_>>()
                    ))
                })?;
                let line = LogLine {
                    step: state.global_step,
                    epoch: state.epoch as f64 + state.batches_done as f64 / batches.len() as f64,
                    loss: state.running_loss.0 / state.running_loss.1.max(1) as f64,
                    learning_rate: lr,
                    grad_norm: last_grad_norm,
                    elapsed_seconds: elapsed_before + session_start.elapsed().as_secs_f64(),
                    metrics: &metrics,
                };
                let json =
                    serde_json::to_string(&line).map_err(|e| Error::Invalid(e.to_string()))?;
                use std::io::Write;
                writeln!(log, "{json}").map_err(|e| Error::io(&log_path, e))?;
                bar.suspend(|| eprintln!("naba: {json}"));
                state.running_loss = (0.0, 0);
                if state.best_metric.is_none_or(|b| value > b) {
                    state.best_metric = Some(value);
                    state.best_step = state.global_step;
                    state.stale_evaluations = 0;
                    task.save_model(&cfg.output_dir)?;
                } else {
                    state.stale_evaluations += 1;
                }
                if cfg
                    .early_stopping_patience
                    .is_some_and(|p| state.stale_evaluations >= p)
                {
                    stopped_by = format!(
                        "early stopping after {} evaluations without improvement",
                        state.stale_evaluations
                    );
                    state.finished = true;
                }
                save_checkpoint(&mut state, &optimizer)?;
                if state.finished {
                    break 'epochs;
                }
            } else if cfg
                .save_steps
                .is_some_and(|n| state.global_step % n.max(1) == 0)
            {
                save_checkpoint(&mut state, &optimizer)?;
            }
        }
        if state.batches_done >= batches.len() {
            state.epoch += 1;
            state.batches_done = 0;
        }
    }
    state.finished = true;
    save_checkpoint(&mut state, &optimizer)?;
    bar.finish_and_clear();
    Ok(TrainSummary {
        steps: state.global_step,
        best_metric: state.best_metric,
        best_step: state.best_step,
        train_seconds: state.elapsed_seconds,
        stopped_by,
    })
}

/// The dropout seed of micro-batch `batch` of `epoch`.
fn rng_seed(seed: u64, epoch: u64, batch: usize) -> u64 {
    use rand::RngCore;
    rng_for(seed, 2 + epoch, batch as u64).next_u64()
}
