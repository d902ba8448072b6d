//! Header dictionaries: trained once from samples gathered across a process's snapshots,
//! stored under their hash, cached, damaged ones passed over.

use std::sync::{Arc, PoisonError};

use super::codec::{Dictionary, train_dictionary};
use super::{BlobStore, dictionary_key, lock};
use crate::error::{Error, ErrorKind, Result};
use crate::id::BlobId;

/// The dictionary writers use (if any is intact), and the damaged ones passed over (key,
/// why).
pub(crate) type IntactDictionary = (Option<Arc<Dictionary>>, Vec<(String, String)>);

/// At most this many messages' header blocks are gathered to train the dictionary, in one
/// process: past them, zstd is not going to build one from this mail.
const DICTIONARY_SAMPLE_MESSAGES: usize = 600;

/// Header samples gathered towards the repository's dictionary by the snapshots of one
/// process. Most of a provider's accounts are too small to give enough samples alone: the
/// samples of many accounts train one dictionary, and the accounts snapshotted before it
/// exists are compressed without it.
#[derive(Debug, Default)]
pub(crate) struct TrainingSamples {
    samples: Vec<Vec<u8>>,
    messages: usize,
}

impl TrainingSamples {
    /// How many more messages' header blocks are wanted.
    fn wanted(&self) -> usize {
        DICTIONARY_SAMPLE_MESSAGES.saturating_sub(self.messages)
    }
}

impl BlobStore {
    /// Loads (and caches) a dictionary, checking its hash.
    pub(crate) fn dictionary(&self, id: &BlobId) -> Result<Arc<Dictionary>> {
        if let Some(d) = self
            .dictionaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(id)
        {
            return Ok(Arc::clone(d));
        }
        let key = dictionary_key(id);
        // Only a pack (or the writer that just saved it) names a dictionary: one that is
        // gone is damage to the repository, not a message that does not exist.
        let data = self.backend.read(&key).map_err(|e| match e.kind() {
            ErrorKind::NotFound => Error::integrity(
                &key,
                "dictionary is missing (blobs compressed with it cannot be read)",
            ),
            _ => e,
        })?;
        if BlobId::of(&data) != *id {
            return Err(Error::integrity(key, "dictionary does not match its hash"));
        }
        let data = Arc::new(Dictionary::new(*id, &data));
        self.dictionaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(*id, Arc::clone(&data));
        Ok(data)
    }

    /// The dictionary writers use: the one with the smallest id, so that two processes that
    /// each trained one agree from then on. `None` if the repository has no intact one.
    pub(crate) fn current_dictionary(&self) -> Result<Option<Arc<Dictionary>>> {
        Ok(self.intact_dictionary()?.0)
    }

    /// [`current_dictionary`](Self::current_dictionary), and the dictionaries passed over
    /// because they are damaged (key, why): a damaged one must not stop every writer.
    pub(crate) fn intact_dictionary(&self) -> Result<IntactDictionary> {
        let mut damaged = Vec::new();
        for key in self.backend.list("dictionaries/")? {
            let Some(id) = key
                .rsplit('/')
                .next()
                .and_then(|name| BlobId::from_hex(name).ok())
            else {
                continue;
            };
            if let Some(reason) = lock(&self.damaged_dictionaries).get(&id) {
                damaged.push((key, reason.clone()));
                continue;
            }
            match self.dictionary(&id) {
                Ok(dictionary) => return Ok((Some(dictionary), damaged)),
                Err(e) if e.kind() == ErrorKind::Integrity => {
                    lock(&self.damaged_dictionaries).insert(id, e.to_string());
                    damaged.push((key, e.to_string()));
                }
                Err(e) => return Err(e),
            }
        }
        Ok((None, damaged))
    }

    /// How many messages' header blocks the training of a dictionary still wants from the
    /// next snapshot: none once this process has offered as many as it takes.
    pub(crate) fn dictionary_samples_wanted(&self) -> usize {
        lock(&self.training).wanted()
    }

    /// Adds the header blocks of `messages` messages to the samples for the dictionary, and
    /// trains and stores one as soon as there are enough. Returns the dictionary writers use
    /// from now on: the one trained now, one another snapshot trained meanwhile, or none yet.
    pub(crate) fn offer_dictionary_samples(
        &self,
        messages: usize,
        samples: Vec<Vec<u8>>,
    ) -> Result<Option<Arc<Dictionary>>> {
        let mut training = lock(&self.training);
        if let (Some(current), _) = self.intact_dictionary()? {
            return Ok(Some(current));
        }
        let messages = messages.min(training.wanted());
        training.messages += messages;
        training.samples.extend(samples);
        match train_dictionary(&training.samples) {
            Some(trained) => {
                training.samples = Vec::new();
                let id = self.save_dictionary(trained)?;
                Ok(Some(self.dictionary(&id)?))
            }
            None => {
                if training.wanted() == 0 {
                    // Nothing more will be gathered: free what was.
                    training.samples = Vec::new();
                }
                Ok(None)
            }
        }
    }

    /// Stores a newly trained dictionary and returns its id. A damaged file under its name
    /// (the same training gave the same bytes) is replaced by these bytes, which are what
    /// its name says it holds.
    pub(crate) fn save_dictionary(&self, data: Vec<u8>) -> Result<BlobId> {
        let id = BlobId::of(&data);
        let key = dictionary_key(&id);
        match self.backend.write_new(&key, &data) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                if BlobId::of(&self.backend.read(&key)?) != id {
                    self.backend.delete(&key)?;
                    self.backend.write_new(&key, &data)?;
                }
                lock(&self.damaged_dictionaries).remove(&id);
            }
            Err(e) => return Err(e),
        }
        self.dictionaries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Arc::new(Dictionary::new(id, &data)));
        Ok(id)
    }
}
