import * as tf from '@tensorflow/tfjs';
import { describeEngineOnFixture, describeWideMlp } from '../helpers/engineSuite';

const setup = async () => {
  await tf.setBackend('cpu');
};
describeEngineOnFixture('cpu', setup);
describeWideMlp('cpu', setup);
