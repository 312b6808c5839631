/**
 * What the sampling pipeline says about each stage it knows: its setting (and so its slider), why it
 * did nothing when off, its rule in its own terms and one plain sentence about what it did to the
 * distribution it received. Every number in the words comes from the replayed stage (inspectStep),
 * so the words and the bars and the table say the same thing. No React: unit-tested as text.
 */
import type { PipelineStage, SamplerSettings } from '../generation/inspect';
import { TopHLogitsWarper } from '../generation/logitsProcessors';
import { count, percent } from './inspection';

export interface StageGuide {
  setting: keyof SamplerSettings;
  /** Why the stage did nothing under `s`: a stage with these words is listed when off (the Sampling controls' own). */
  off?: (s: SamplerSettings, greedy: boolean) => string;
  /** The threshold in the stage's own terms. */
  rule: (stage: PipelineStage, s: SamplerSettings, previous: PipelineStage | undefined) => string;
  /** One plain sentence: what the stage did to the distribution it received. */
  sentence: (stage: PipelineStage, s: SamplerSettings, previous: PipelineStage | undefined, seen: number) => string;
}

/** "1 token", "1,024 tokens". */
export const tokens = (n: number) => `${count(n)} ${n === 1 ? 'token' : 'tokens'}`;
/** "the 4 likeliest" (or "the likeliest one"). */
const likeliest = (n: number) => (n === 1 ? 'the likeliest one' : `the ${count(n)} likeliest`);
/** "of all 50,257 tokens" or "of the 50 tokens top-k kept". */
const source = (stage: PipelineStage, previous: PipelineStage | undefined) =>
  previous && previous.kept < previous.received
    ? `of the ${tokens(stage.received)} ${previous.label} kept`
    : `of all ${tokens(stage.received)}`;
/** "3 are cut" / "none is cut". */
const cut = (stage: PipelineStage) =>
  stage.received === stage.kept ? 'none is cut' : `the other ${count(stage.received - stage.kept)} are cut`;
/** A small probability as a percentage with two significant digits where two decimals would show 0.00 %. */
const small = (p: number) => (p * 100 >= 0.01 ? percent(p) : `${(p * 100).toPrecision(2)} %`);
const nats = (h: number) => `${h.toFixed(2)} nats`;
/** Eta's cut-off for a distribution of entropy `h`: min(ε, √ε · e^(−h)), as Hugging Face's EtaLogitsWarper computes it. */
export const etaThreshold = (epsilon: number, h: number) => Math.min(epsilon, Math.sqrt(epsilon) * Math.exp(-h));
const greedyOff = 'off: temperature 0 is greedy decoding, which takes the likeliest token';

/** The stages the page knows, by Hugging Face option name, in the order generation applies them; any other processor is shown with generic words. */
export const GUIDES: Record<string, StageGuide> = {
  repetition_penalty: {
    setting: 'repetition_penalty',
    off: () => 'off (1): no token is penalised for being in the text already',
    rule: (_, s) => `logits of tokens already in the text ÷ ${s.repetition_penalty} (× when negative)`,
    sentence: (stage, s, _, seen) =>
      `Repetition penalty ${s.repetition_penalty}: the ${tokens(seen)} already in the text are made less likely; the likeliest token's share goes from ${percent(stage.topBefore)} to ${percent(stage.topAfter)}.`,
  },
  no_repeat_ngram_size: {
    setting: 'no_repeat_ngram_size',
    rule: (_, s) => `a token that would complete a ${s.no_repeat_ngram_size}-gram already in the text`,
    sentence: (stage, s) =>
      stage.received === stage.kept
        ? `No repeated ${s.no_repeat_ngram_size}-grams: no token would repeat a ${s.no_repeat_ngram_size}-gram of the text here, so none is cut.`
        : `No repeated ${s.no_repeat_ngram_size}-grams: ${tokens(stage.received - stage.kept)} would complete a ${s.no_repeat_ngram_size}-gram the text already has and ${stage.received - stage.kept === 1 ? 'is' : 'are'} cut (${percent(1 - stage.keptMass)} of the probability).`,
  },
  temperature: {
    setting: 'temperature',
    off: (_, greedy) => (greedy ? 'temperature 0: greedy decoding (the last stage)' : 'off (1): the logits are used as they are'),
    rule: (_, s) => `every logit ÷ ${s.temperature}`,
    sentence: (stage, s) =>
      `Temperature ${s.temperature} ${s.temperature < 1 ? 'sharpens' : 'flattens'} the distribution: the likeliest token goes from ${percent(stage.topBefore)} to ${percent(stage.topAfter)}; no token is removed.`,
  },
  top_h: {
    setting: 'top_h',
    rule: (_, s) =>
      `among the ${TopHLogitsWarper.CANDIDATES} likeliest (renormalised), the likeliest first while their entropy terms (−p·log p) add up to ≤ ${s.top_h} × those ${TopHLogitsWarper.CANDIDATES}'s entropy`,
    sentence: (stage, s, previous) =>
      `Top-h ${s.top_h}: ${source(stage, previous)}, ${likeliest(stage.kept)} fit within ${s.top_h} of the entropy of the ${TopHLogitsWarper.CANDIDATES} likeliest and are kept (${percent(stage.keptMass)} of the probability); ${cut(stage)}.`,
  },
  top_k: {
    setting: 'top_k',
    off: (_, greedy) => (greedy ? greedyOff : 'off (0): no limit on the number of tokens'),
    rule: (stage, s) => `the ${count(s.top_k)} likeliest: probability ≥ ${percent(stage.lowestKept)}`,
    sentence: (stage, s, previous) =>
      `Top-k ${s.top_k}: ${source(stage, previous)}, ${likeliest(stage.kept)} are kept (${percent(stage.keptMass)} of the probability); the other ${count(stage.received - stage.kept)} are cut.`,
  },
  top_p: {
    setting: 'top_p',
    off: (_, greedy) => (greedy ? greedyOff : 'off (1): every token that reached it stays'),
    rule: (_, s, previous) =>
      `cumulative probability ${s.top_p} ${previous && previous.kept < previous.received ? `of what ${previous.label} kept, renormalised` : 'of the whole distribution'}`,
    sentence: (stage, s, previous) =>
      `Top-p ${s.top_p}: ${source(stage, previous)}, ${likeliest(stage.kept)} already hold ${percent(stage.keptMass)} (top-p asks for ${percent(s.top_p)}); the other ${count(stage.received - stage.kept)} are cut.`,
  },
  min_p: {
    setting: 'min_p',
    off: (_, greedy) => (greedy ? greedyOff : 'off (0): no token is too unlikely'),
    rule: (stage, s) => `probability < ${s.min_p} × ${percent(stage.topBefore)} (the top token) = ${percent(s.min_p * stage.topBefore)}`,
    sentence: (stage, s, previous) =>
      `Min-p ${s.min_p}: ${source(stage, previous)}, those below ${percent(s.min_p * stage.topBefore)} (${s.min_p} × the likeliest token's ${percent(stage.topBefore)}) are cut: ${count(stage.received - stage.kept)} go, ${count(stage.kept)} stay.`,
  },
  typical_p: {
    setting: 'typical_p',
    rule: (stage, s) =>
      `the tokens whose surprise (−log p) is closest to the entropy, ${nats(stage.entropyBefore)}, until they hold ${percent(s.typical_p ?? 1)}`,
    sentence: (stage, s, previous) =>
      `Typical-p ${s.typical_p}: ${source(stage, previous)}, the ${tokens(stage.kept)} whose surprise is closest to the distribution's entropy (${nats(stage.entropyBefore)}) are kept, holding ${percent(stage.keptMass)} (typical-p asks for ${percent(s.typical_p ?? 1)}); ${cut(stage)}.`,
  },
  epsilon_cutoff: {
    setting: 'epsilon_cutoff',
    rule: (_, s) => `probability < ε = ${small(s.epsilon_cutoff ?? 0)}`,
    sentence: (stage, s, previous) =>
      `Epsilon ${s.epsilon_cutoff}: ${source(stage, previous)}, those below ${small(s.epsilon_cutoff ?? 0)} are cut: ${count(stage.received - stage.kept)} go, ${count(stage.kept)} stay.`,
  },
  eta_cutoff: {
    setting: 'eta_cutoff',
    rule: (stage, s) =>
      `probability < η = min(ε, √ε · e^(−entropy)) = min(${s.eta_cutoff}, √${s.eta_cutoff} · e^(−${stage.entropyBefore.toFixed(2)})) = ${small(etaThreshold(s.eta_cutoff ?? 0, stage.entropyBefore))}`,
    sentence: (stage, s, previous) =>
      `Eta ${s.eta_cutoff}: ${source(stage, previous)}, whose entropy is ${nats(stage.entropyBefore)}, those below η = ${small(etaThreshold(s.eta_cutoff ?? 0, stage.entropyBefore))} are cut (a flatter distribution cuts less): ${count(stage.received - stage.kept)} go, ${count(stage.kept)} stay.`,
  },
};

/** The stages the pipeline lists even when off (those with words for it: the Sampling controls' own); the others appear only when they run. */
export const LISTED_WHEN_OFF = Object.keys(GUIDES).filter((name) => GUIDES[name].off);

/** The sentence under a stage: its guide's, greedy's, or generic words for a processor the page does not know. */
export function stageSentence(stage: PipelineStage, s: SamplerSettings, previous: PipelineStage | undefined, seen: number): string {
  if (stage.name === 'greedy')
    return `Temperature 0 is greedy decoding: only the likeliest token stays (${percent(stage.keptMass)} of what reached it).`;
  const guide = GUIDES[stage.name] as StageGuide | undefined;
  if (guide) return guide.sentence(stage, s, previous, seen);
  return `${stage.label}: ${source(stage, previous)}, ${tokens(stage.kept)} stay (${percent(stage.keptMass)} of the probability); ${count(stage.received - stage.kept)} are cut.`;
}
