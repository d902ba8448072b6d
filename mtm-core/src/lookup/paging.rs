//! Paging through a folder: numbered pages checked once, and the state of a walk over every
//! message a page at a time. Pure: the caller fetches each page (the Python binding does it
//! with the interpreter released), so every binding pages the same way.

use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::lookup::{AccountView, MessagePage, MessageQuery};
use crate::names::FolderName;

impl MessageQuery {
    /// Selects page `number` of `per_page` messages, as [`page`](Self::page) does, but
    /// refuses page 0 and pages of 0 messages ([`ErrorKind::InvalidInput`](crate::ErrorKind))
    /// instead of reading them as page 1 and an empty page.
    pub fn numbered_page(self, number: usize, per_page: usize) -> Result<Self> {
        if number == 0 || per_page == 0 {
            return Err(Error::invalid(
                "page",
                format!(
                    "page numbers and page sizes start at 1 (asked for page {number} of \
                     {per_page})"
                ),
            ));
        }
        Ok(self.page(number, per_page))
    }
}

/// Where a walk over a folder's messages is: the query of the next page to fetch, worked out
/// from the page just fetched. It starts at the query's offset and fetches `limit` messages
/// a page; it ends after a short page or at the folder's total.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessagePager {
    next: Option<MessageQuery>,
}

impl MessagePager {
    /// A walk starting at `query` (its sort, order, offset and page size `limit`); a page
    /// size of 0 is [`ErrorKind::InvalidInput`](crate::ErrorKind).
    pub fn new(query: MessageQuery) -> Result<Self> {
        if query.limit == 0 {
            return Err(Error::invalid(
                "page size",
                "a page holds at least 1 message",
            ));
        }
        Ok(Self { next: Some(query) })
    }

    /// The query of the next page to fetch, `None` once the folder is exhausted.
    pub fn next_query(&self) -> Option<MessageQuery> {
        self.next
    }

    /// Records the page that [`next_query`](Self::next_query) fetched.
    pub fn advance(&mut self, page: &MessagePage) {
        let Some(query) = self.next else {
            return;
        };
        let fetched = page.messages.len();
        let seen = query.offset.saturating_add(fetched);
        let more = fetched == query.limit && u64::try_from(seen).is_ok_and(|s| s < page.total);
        self.next = more.then_some(MessageQuery {
            offset: seen,
            ..query
        });
    }
}

/// Every page of a folder's messages, fetched one at a time as the iteration goes: see
/// [`AccountView::message_pages`].
#[derive(Debug)]
pub struct MessagePages<'a> {
    view: &'a AccountView,
    day: NaiveDate,
    folder: FolderName,
    pager: MessagePager,
}

impl Iterator for MessagePages<'_> {
    type Item = Result<MessagePage>;

    fn next(&mut self) -> Option<Self::Item> {
        let query = self.pager.next_query()?;
        match self.view.messages(self.day, &self.folder, &query) {
            Ok(page) => {
                self.pager.advance(&page);
                Some(Ok(page))
            }
            Err(e) => {
                // An error ends the walk: the next call would only fail again.
                self.pager.next = None;
                Some(Err(e))
            }
        }
    }
}

impl AccountView {
    /// The pages of a folder's messages on `day`, from `query`'s offset on, `query.limit`
    /// messages a page (at least 1), fetched lazily: for listings too long for one page.
    pub fn message_pages(
        &self,
        day: NaiveDate,
        folder: &FolderName,
        query: MessageQuery,
    ) -> Result<MessagePages<'_>> {
        Ok(MessagePages {
            view: self,
            day,
            folder: folder.clone(),
            pager: MessagePager::new(query)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(total: u64, offset: u64, messages: usize) -> MessagePage {
        MessagePage {
            total,
            offset,
            messages: vec![dummy(); messages],
        }
    }

    fn dummy() -> crate::lookup::MessageInfo {
        crate::lookup::MessageInfo {
            id: crate::MessageId::of(b""),
            folder: FolderName::inbox(),
            file_name: "1.M1.test:2,".into(),
            size: 0,
            received: chrono::DateTime::default(),
            flags: crate::Flags::default(),
            keywords: Vec::new(),
            summary: crate::Summary::default(),
        }
    }

    #[test]
    fn a_walk_ends_at_the_total_or_after_a_short_page() {
        let mut pager = MessagePager::new(MessageQuery::default().page(1, 3)).unwrap();
        let mut offsets = Vec::new();
        let total = 7;
        while let Some(query) = pager.next_query() {
            offsets.push(query.offset);
            let fetched = (total - query.offset).min(query.limit);
            pager.advance(&page(total as u64, query.offset as u64, fetched));
        }
        assert_eq!(offsets, [0, 3, 6]);

        let mut exact = MessagePager::new(MessageQuery::default().page(1, 3)).unwrap();
        exact.advance(&page(3, 0, 3));
        assert_eq!(
            exact.next_query(),
            None,
            "a full last page ends at the total"
        );
    }

    #[test]
    fn empty_pages_and_page_zero_are_refused() {
        let zero = MessageQuery {
            limit: 0,
            ..MessageQuery::default()
        };
        assert!(MessagePager::new(zero).is_err());
        assert!(MessageQuery::default().numbered_page(0, 50).is_err());
        assert!(MessageQuery::default().numbered_page(2, 0).is_err());
        let second = MessageQuery::default().numbered_page(2, 50).unwrap();
        assert_eq!((second.offset, second.limit), (50, 50));
    }
}
