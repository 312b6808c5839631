/** The CLI's commands, in the order `--help` lists them. Add a command here to register it. */
import type { CliCommand } from '../command';
import { attentionCommand } from './attention';
import { generateCommand } from './generate';
import { lensCommand } from './lens';
import { logitsCommand } from './logits';
import { lossCommand } from './loss';
import { tokenizeCommand } from './tokenize';

export const COMMANDS: CliCommand[] = [tokenizeCommand, logitsCommand, generateCommand, lossCommand, attentionCommand, lensCommand];
