export { encode, decode, EOS_TOKEN_ID } from './tokenizer';
