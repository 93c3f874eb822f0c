import type { RuntimeStats } from '../../../providers/llama/worker/protocol.js';

export type ModelKind = 'gguf' | 'onnx';
export type CircuitStateName = 'closed' | 'open' | 'half_open';

/** A local model as the models dir holds it. */
export interface LocalModelFile {
  id: string;
  kind: ModelKind;
  /** Size on disk; null for a model directory. */
  bytes: number | null;
  /** The file (or directory) name, never a path. */
  file: string;
}

/** What the admin API needs of the local runtimes: the files, what is loaded, and load/unload. */
export interface ModelControl {
  files(): LocalModelFile[];
  /** The llama.cpp runtime thread's figures (one message to the thread). */
  runtimeStats(): Promise<RuntimeStats>;
  /** ONNX models loaded now. */
  onnxLoaded(): Promise<string[]>;
  load(id: string): Promise<void>;
  unload(id: string): Promise<void>;
}

export interface UpstreamState {
  provider: string;
  state: CircuitStateName;
  /** Consecutive failures counted towards opening the circuit. */
  failures: number;
}

/** Stops a job of one kind; registered per cancellable kind (ingestions are not: they end on
 *  their own, and a file is removed from a vector store through the OpenAI API instead). */
export type JobCanceller = (id: string) => void | Promise<void>;
