import { useCallback, useEffect, useRef } from 'react';
import type { BranchState, RunToken } from './appState';
import type { InspectedStep } from './components/TokenInspector';
import type { useGenerationWorker } from './useGenerationWorker';
import type { useInspectorSelection } from './useInspectorSelection';
import type { PaneView } from './panes';
import { generateOptions, type Settings } from './settings';
import { loadTokenTexts, visibleText } from './tokenText';

type Worker = Pick<ReturnType<typeof useGenerationWorker>, 'branch' | 'closeBranch'>;
type Selection = ReturnType<typeof useInspectorSelection>;

/**
 * Branch and close: `startBranch(step, tokenId)` continues the step's pane from that step (the
 * one the inspector's table shows, which may be a render behind the selection) with `tokenId`
 * forced there, under the sliders' settings and the pane's seed (the worker forks the pane's KV
 * cache when it kept it); `closePane` closes a branch, and the inspector goes back to where the
 * branch came from if it showed it.
 */
export function useBranching(worker: Worker, panes: PaneView[], settings: Settings, selection: Selection) {
  const { branch, closeBranch } = worker;
  const { branched, branchClosed } = selection;
  const panesRef = useRef(panes);
  useEffect(() => {
    panesRef.current = panes;
  }, [panes]);
  const startBranch = useCallback(
    async (step: InspectedStep, tokenId: number) => {
      const pane = panesRef.current.find((p) => p.key === step.paneKey);
      if (!pane) return;
      const inspection = step.token.inspection;
      const piece = (await loadTokenTexts())(tokenId);
      const at = inspection ? Array.from(inspection.logits.ids).indexOf(tokenId) : -1;
      const forced: RunToken = { id: tokenId, text: piece };
      if (inspection && at >= 0) {
        forced.inspection = {
          ...inspection,
          logprob: inspection.logits.logits[at] - inspection.logits.logSumExp,
          rank: at + 1,
          draw: null,
        };
      }
      const before = pane.tokens.slice(0, step.index).map((t) => t.text);
      const id = branch(
        {
          origin: `${pane.name} › token ${step.index + 1} › "${visibleText(piece)}"`,
          parent: pane.key,
          step: step.index,
          prefixIds: step.history,
          options: { ...generateOptions(settings), num_return_sequences: 1, seed: pane.seed ?? settings.seed },
          tokens: [forced],
          prefixText: pane.promptText + before.join(''),
        },
        pane.source,
      );
      branched(id);
    },
    [branch, branched, settings],
  );

  const closePane = useCallback(
    (closed: BranchState) => {
      closeBranch(closed.requestId);
      branchClosed(closed);
    },
    [closeBranch, branchClosed],
  );
  return { startBranch, closePane };
}
