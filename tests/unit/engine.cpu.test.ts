import * as tf from '@tensorflow/tfjs';
import { describeEngineOnFixture } from '../helpers/engineSuite';

describeEngineOnFixture('cpu', async () => {
  await tf.setBackend('cpu');
});
