import t from 'tap';
import { SymptomIndex, type SearchableTopic } from '../../src/search/symptom-search.js';

/** A handful of topics worded as authors write them; the queries are worded as people type. */
const TOPICS: SearchableTopic[] = [
  { id: 'abdominal-pain', title: 'Tummy pain', description: 'Pain in the tummy or stomach.', searchTerms: ['tummy ache', 'stomach ache', 'belly pain', 'stomach cramps'] },
  { id: 'back-pain', title: 'Back pain', description: 'Pain anywhere in the back.', searchTerms: ['bad back', 'backache', 'lower back pain', 'sciatica'] },
  { id: 'diarrhoea-vomiting', title: 'Diarrhoea and vomiting', description: 'Runny poo, being sick, or both.', searchTerms: ['diarrhoea', 'runny poo', 'the runs', 'stomach bug'] },
  { id: 'earache', title: 'Earache', description: 'Pain in one or both ears.', searchTerms: ['ear ache', 'sore ear', 'ear infection', 'pain in ear'] },
  { id: 'red-painful-eye', title: 'Red or painful eye', description: 'An eye that is red, sore or painful.', searchTerms: ['red eye', 'sore eye', 'bloodshot eye', 'eye pain'] },
  { id: 'headache', title: 'Headache', description: 'Pain in the head.', searchTerms: ['head ache', 'migraine', 'pounding head', 'bad head'] },
  { id: 'shortness-of-breath', title: 'Breathing problems', description: 'Finding it hard to breathe.', searchTerms: ['short of breath', "can't catch my breath", 'breathless', 'wheezing'] },
];
const index = new SymptomIndex(TOPICS);
const first = (q: string) => index.search(q)[0]?.id;

t.test('lay words find their topic, best first', async (t) => {
  t.equal(first('tummy ache'), 'abdominal-pain');
  t.equal(first('runny poo'), 'diarrhoea-vomiting');
  t.equal(first('my ear is killing me'), 'earache');
});

t.test('typos, plurals, word forms and word order', async (t) => {
  t.equal(first('diarhea'), 'diarrhoea-vomiting', 'two letters wrong in a long word');
  t.equal(first('stomache cramps'), 'abdominal-pain');
  t.equal(first('headaches'), 'headache', 'plural');
  t.equal(first('aching back'), 'back-pain', 'word form and order');
  t.equal(first('cant catch my breath'), 'shortness-of-breath', 'no apostrophe');
  t.equal(first('can’t catch my breath'), 'shortness-of-breath', 'curly apostrophe');
  t.same(
    index.search('ache tummy').map((h) => h.id),
    index.search('tummy ache').map((h) => h.id),
    'word order does not change the ranking',
  );
});

t.test('the last word may be unfinished, as people type', async (t) => {
  t.equal(first('tumm'), 'abdominal-pain');
  t.equal(first('breathl'), 'shortness-of-breath');
});

t.test('short words are not stretched into other words', async (t) => {
  t.equal(first('ear'), 'earache');
  t.notOk(
    index.search('ear').some((h) => h.id === 'red-painful-eye'),
    '"ear" is not a typo of "eye"',
  );
});

t.test('words that say nothing of a symptom match nothing', async (t) => {
  t.same(index.search('my it is really'), []);
  t.same(index.search('zzzz qqqq'), []);
  t.same(index.search(''), []);
});
