// meta::Store: the namespace — creating, looking up, updating, deleting,
// renaming and listing inodes, and pins.
#include <sys/stat.h>

#include <algorithm>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "meta/store.h"
#include "tests/meta/store_fixture.h"

namespace slotfs::meta::testing {
namespace {

class StoreNamespaceTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    CreateStore();
  }
};

TEST_F(StoreNamespaceTest, CreateInodeLookupAndGetInodeRoundTrip) {
  auto c = store_->CreateInode(kRootInode, "file", kFileMode, 11, 22, 777,
                               InodeState::kWriting);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_GT(c->ino.value, kRootInode.value);
  EXPECT_EQ(c->parent, kRootInode);
  EXPECT_EQ(c->name, "file");

  for (auto got : {store_->Lookup(kRootInode, "file"), store_->GetInode(c->ino)}) {
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(got->ino, c->ino);
    EXPECT_EQ(got->parent, kRootInode);
    EXPECT_EQ(got->name, "file");
    EXPECT_EQ(got->mode, kFileMode);
    EXPECT_EQ(got->uid, 11u);
    EXPECT_EQ(got->gid, 22u);
    EXPECT_EQ(got->size, 0u);
    EXPECT_EQ(got->slots, 0u);
    EXPECT_EQ(got->atime_ns, 777);
    EXPECT_EQ(got->mtime_ns, 777);
    EXPECT_EQ(got->ctime_ns, 777);
    EXPECT_EQ(got->state, InodeState::kWriting);
    EXPECT_EQ(got->pin, 0u);
  }
}

TEST_F(StoreNamespaceTest, NamesAreArbitraryBytes) {
  const std::vector<std::string> names = {
      "\xff\xfe",                 // not UTF-8
      "\xc3\x28",                 // invalid UTF-8 sequence
      "@",
      "%",
      "%s%n%d",                   // printf specials
      "a'b\"c",                   // SQL quotes
      "x'00'",                    // looks like a blob literal
      std::string("nul\0inside", 10),
      "trailing space ",
      " ",
      "caf\xc3\xa9",              // precomposed é
      "cafe\xcc\x81",             // e + combining accent: a different name
      "CASE", "case",             // case matters
      std::string(255, 'n'),
      std::string(255, '\xff'),
  };
  std::vector<InodeNo> inos;
  for (const std::string& n : names) inos.push_back(MakeFile(kRootInode, n));
  Reopen();
  for (size_t i = 0; i < names.size(); ++i) {
    SCOPED_TRACE(i);
    auto l = store_->Lookup(kRootInode, names[i]);
    ASSERT_TRUE(l.ok()) << l.status().ToString();
    EXPECT_EQ(l->ino, inos[i]);
    EXPECT_EQ(l->name, names[i]);
    EXPECT_EQ(l->name.size(), names[i].size());
    auto g = store_->GetInode(inos[i]);
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g->name, names[i]);
  }
  std::set<uint64_t> distinct;
  for (InodeNo i : inos) distinct.insert(i.value);
  EXPECT_EQ(distinct.size(), names.size());
}

TEST_F(StoreNamespaceTest, LookupIsExactNotPrefixOrCaseInsensitive) {
  MakeFile(kRootInode, "abc");
  EXPECT_EQ(store_->Lookup(kRootInode, "ab").status().code(), ENOENT);
  EXPECT_EQ(store_->Lookup(kRootInode, "abcd").status().code(), ENOENT);
  EXPECT_EQ(store_->Lookup(kRootInode, "ABC").status().code(), ENOENT);
  EXPECT_EQ(store_->Lookup(kRootInode, "ab%").status().code(), ENOENT);
  EXPECT_EQ(store_->Lookup(kRootInode, "a_c").status().code(), ENOENT);
  EXPECT_EQ(store_->Lookup(kRootInode, std::string("abc\0", 4)).status().code(),
            ENOENT);
}

TEST_F(StoreNamespaceTest, NameWithEmbeddedNulDiffersFromItsPrefix) {
  InodeNo a = MakeFile(kRootInode, "a");
  InodeNo anul = MakeFile(kRootInode, std::string("a\0b", 3));
  ASSERT_NE(a, anul);
  EXPECT_EQ(store_->Lookup(kRootInode, "a")->ino, a);
  EXPECT_EQ(store_->Lookup(kRootInode, std::string("a\0b", 3))->ino, anul);
}

TEST_F(StoreNamespaceTest, DuplicateNameInSameDirectoryIsEexist) {
  InodeNo first = MakeFile(kRootInode, "dup");
  uint64_t seq = store_->last_seq();
  auto again = store_->CreateInode(kRootInode, "dup", kDirMode, 0, 0, 1,
                                   InodeState::kComplete);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), EEXIST);
  EXPECT_EQ(store_->last_seq(), seq);  // a failed insert is no transaction
  auto l = store_->Lookup(kRootInode, "dup");
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->ino, first);
  EXPECT_EQ(l->mode, kFileMode);
}

TEST_F(StoreNamespaceTest, SameNameInDifferentDirectoriesIsAllowed) {
  InodeNo d1 = MakeDir(kRootInode, "d1");
  InodeNo d2 = MakeDir(kRootInode, "d2");
  InodeNo a = MakeFile(d1, "same");
  InodeNo b = MakeFile(d2, "same");
  EXPECT_NE(a, b);
  EXPECT_EQ(store_->Lookup(d1, "same")->ino, a);
  EXPECT_EQ(store_->Lookup(d2, "same")->ino, b);
  EXPECT_EQ(store_->Lookup(kRootInode, "same").status().code(), ENOENT);
}

TEST_F(StoreNamespaceTest, NameIsFreeAgainAfterDelete) {
  InodeNo a = MakeFile(kRootInode, "x");
  ASSERT_TRUE(store_->DeleteInode(a).ok());
  InodeNo b = MakeFile(kRootInode, "x");
  EXPECT_NE(b, InodeNo(0));
  EXPECT_EQ(store_->Lookup(kRootInode, "x")->ino, b);
}

TEST_F(StoreNamespaceTest, InodeNumbersAreNeverReusedEvenAcrossReopen) {
  InodeNo a = MakeFile(kRootInode, "a");
  InodeNo b = MakeFile(kRootInode, "b");
  EXPECT_GT(b, a);
  // Deleting the highest row must not let its number come back.
  ASSERT_TRUE(store_->DeleteInode(b).ok());
  Reopen();
  InodeNo c = MakeFile(kRootInode, "c");
  EXPECT_GT(c, b);
}

TEST_F(StoreNamespaceTest, LookupAndGetInodeOfMissingAreEnoent) {
  EXPECT_EQ(store_->Lookup(kRootInode, "nope").status().code(), ENOENT);
  EXPECT_EQ(store_->GetInode(InodeNo(9999)).status().code(), ENOENT);
  EXPECT_EQ(store_->GetInode(InodeNo(0)).status().code(), ENOENT);
  EXPECT_EQ(store_->Lookup(InodeNo(9999), "x").status().code(), ENOENT);
}

TEST_F(StoreNamespaceTest, UpdateAttrsPersists) {
  InodeNo f = MakeFile(kRootInode, "f");
  CommitExtents(f, {{0, SlotId(3), 1}}, 100);
  InodeRow row = store_->GetInode(f).value();
  row.mode = S_IFREG | 0600;
  row.uid = 42;
  row.gid = 43;
  row.atime_ns = 1;
  row.mtime_ns = 2;
  row.ctime_ns = 3;
  // Fields UpdateAttrs does not own must be left alone.
  row.name = "ignored";
  row.parent = InodeNo(77);
  row.size = 999999;
  row.slots = 99;
  row.pin = 5;
  row.state = InodeState::kWriting;
  ASSERT_TRUE(store_->UpdateAttrs(row).ok());
  Reopen();
  auto got = store_->GetInode(f);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->mode, S_IFREG | 0600u);
  EXPECT_EQ(got->uid, 42u);
  EXPECT_EQ(got->gid, 43u);
  EXPECT_EQ(got->atime_ns, 1);
  EXPECT_EQ(got->mtime_ns, 2);
  EXPECT_EQ(got->ctime_ns, 3);
  EXPECT_EQ(got->name, "f");
  EXPECT_EQ(got->parent, kRootInode);
  EXPECT_EQ(got->size, 100u);
  EXPECT_EQ(got->slots, 1u);
  EXPECT_EQ(got->pin, 0u);
  EXPECT_EQ(got->state, InodeState::kComplete);
}

TEST_F(StoreNamespaceTest, UpdateAttrsWithUnchangedValuesSucceeds) {
  InodeNo f = MakeFile(kRootInode, "f");
  InodeRow row = store_->GetInode(f).value();
  EXPECT_TRUE(store_->UpdateAttrs(row).ok());
}

TEST_F(StoreNamespaceTest, UpdateAttrsKeepsNegativeAndHugeTimes) {
  InodeNo f = MakeFile(kRootInode, "f");
  InodeRow row = store_->GetInode(f).value();
  row.atime_ns = -1'000'000'000;  // before the epoch
  row.mtime_ns = INT64_MAX;
  row.ctime_ns = INT64_MIN;
  row.uid = UINT32_MAX - 1;
  ASSERT_TRUE(store_->UpdateAttrs(row).ok());
  auto got = store_->GetInode(f);
  EXPECT_EQ(got->atime_ns, -1'000'000'000);
  EXPECT_EQ(got->mtime_ns, INT64_MAX);
  EXPECT_EQ(got->ctime_ns, INT64_MIN);
  EXPECT_EQ(got->uid, UINT32_MAX - 1);
}

TEST_F(StoreNamespaceTest, UpdateAttrsOfMissingInodeIsEnoent) {
  InodeRow row;
  row.ino = InodeNo(4242);
  row.mode = kFileMode;
  uint64_t seq = store_->last_seq();
  EXPECT_EQ(store_->UpdateAttrs(row).code(), ENOENT);
  EXPECT_EQ(store_->last_seq(), seq);
}

TEST_F(StoreNamespaceTest, DeleteInodeReturnsItsExtentsAndRemovesThem) {
  InodeNo f = MakeFile(kRootInode, "f");
  InodeNo other = MakeFile(kRootInode, "other");
  std::vector<Extent> ext = {{0, SlotId(100), 4}, {4, SlotId(7), 1},
                             {5, SlotId(300), 2}};
  CommitExtents(f, ext);
  CommitExtents(other, {{0, SlotId(50), 1}});

  auto del = store_->DeleteInode(f);
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  EXPECT_EQ(del.value(), ext);
  EXPECT_EQ(store_->GetInode(f).status().code(), ENOENT);
  EXPECT_EQ(store_->Lookup(kRootInode, "f").status().code(), ENOENT);
  EXPECT_TRUE(store_->GetExtents(f).value().empty());
  auto all = AllExtents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].first, other.value);
  Reopen();
  EXPECT_EQ(AllExtents().size(), 1u);
}

TEST_F(StoreNamespaceTest, DeleteInodeWithoutExtentsReturnsEmpty) {
  InodeNo f = MakeFile(kRootInode, "f", InodeState::kWriting);
  auto del = store_->DeleteInode(f);
  ASSERT_TRUE(del.ok());
  EXPECT_TRUE(del->empty());
}

TEST_F(StoreNamespaceTest, DeleteInodeOfMissingIsEnoentAndNoTransaction) {
  uint64_t seq = store_->last_seq();
  EXPECT_EQ(store_->DeleteInode(InodeNo(31337)).status().code(), ENOENT);
  EXPECT_EQ(store_->last_seq(), seq);
  // The failed transaction was rolled back: the store still takes writes.
  EXPECT_NE(MakeFile(kRootInode, "after"), InodeNo(0));
}

TEST_F(StoreNamespaceTest, DeleteInodeTwiceIsEnoentTheSecondTime) {
  InodeNo f = MakeFile(kRootInode, "f");
  CommitExtents(f, {{0, SlotId(1), 1}});
  ASSERT_TRUE(store_->DeleteInode(f).ok());
  EXPECT_EQ(store_->DeleteInode(f).status().code(), ENOENT);
}

TEST_F(StoreNamespaceTest, RenameMovesToNewParentAndName) {
  InodeNo d = MakeDir(kRootInode, "d");
  InodeNo f = MakeFile(kRootInode, "old");
  CommitExtents(f, {{0, SlotId(8), 2}});
  auto r = store_->Rename(f, d, "\xff new", InodeNo(0), 5555);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->empty());
  EXPECT_EQ(store_->Lookup(kRootInode, "old").status().code(), ENOENT);
  Reopen();
  auto got = store_->Lookup(d, "\xff new");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->ino, f);
  EXPECT_EQ(got->parent, d);
  EXPECT_EQ(got->ctime_ns, 5555);
  // Content moves with the inode.
  EXPECT_EQ(store_->GetExtents(f).value(),
            (std::vector<Extent>{{0, SlotId(8), 2}}));
  auto root_kids = store_->ListChildren(kRootInode, InodeNo(0), 10);
  ASSERT_TRUE(root_kids.ok());
  ASSERT_EQ(root_kids->size(), 1u);
  EXPECT_EQ(root_kids->front().ino, d);
}

TEST_F(StoreNamespaceTest, RenameWithinSameDirectoryToSameNameSucceeds) {
  InodeNo f = MakeFile(kRootInode, "same");
  auto r = store_->Rename(f, kRootInode, "same", InodeNo(0), 1);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(store_->Lookup(kRootInode, "same")->ino, f);
}

TEST_F(StoreNamespaceTest, RenameOverReplacedInodeDeletesItAndReturnsItsExtents) {
  InodeNo src = MakeFile(kRootInode, "src");
  InodeNo dst = MakeFile(kRootInode, "dst");
  CommitExtents(src, {{0, SlotId(1), 1}});
  std::vector<Extent> dst_ext = {{0, SlotId(20), 3}, {3, SlotId(60), 1}};
  CommitExtents(dst, dst_ext);
  uint64_t seq = store_->last_seq();

  auto r = store_->Rename(src, kRootInode, "dst", dst, 9);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r.value(), dst_ext);
  EXPECT_EQ(store_->last_seq(), seq + 1);  // one transaction
  EXPECT_EQ(store_->GetInode(dst).status().code(), ENOENT);
  EXPECT_EQ(store_->Lookup(kRootInode, "src").status().code(), ENOENT);
  EXPECT_EQ(store_->Lookup(kRootInode, "dst")->ino, src);
  auto all = AllExtents();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].first, src.value);
  EXPECT_EQ(all[0].second, (Extent{0, SlotId(1), 1}));
}

TEST_F(StoreNamespaceTest, RenameOntoTakenNameWithoutReplacedIsEexist) {
  InodeNo a = MakeFile(kRootInode, "a");
  InodeNo b = MakeFile(kRootInode, "b");
  auto r = store_->Rename(a, kRootInode, "b", InodeNo(0), 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), EEXIST);
  EXPECT_EQ(store_->Lookup(kRootInode, "a")->ino, a);
  EXPECT_EQ(store_->Lookup(kRootInode, "b")->ino, b);
}

TEST_F(StoreNamespaceTest, RenameOfMissingInodeIsEnoentAndChangesNothing) {
  InodeNo victim = MakeFile(kRootInode, "victim");
  std::vector<Extent> ext = {{0, SlotId(33), 2}};
  CommitExtents(victim, ext);
  uint64_t seq = store_->last_seq();

  // The replaced inode's deletion must roll back with the failed move.
  auto r = store_->Rename(InodeNo(5000), kRootInode, "victim", victim, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ENOENT);
  EXPECT_EQ(store_->last_seq(), seq);
  Reopen();
  auto v = store_->Lookup(kRootInode, "victim");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->ino, victim);
  EXPECT_EQ(store_->GetExtents(victim).value(), ext);
  EXPECT_EQ(AllExtents().size(), 1u);
}

TEST_F(StoreNamespaceTest, RenameOfMissingInodeWithoutReplacedIsEnoent) {
  EXPECT_EQ(store_->Rename(InodeNo(5000), kRootInode, "x", InodeNo(0), 1)
                .status()
                .code(),
            ENOENT);
  EXPECT_EQ(store_->Lookup(kRootInode, "x").status().code(), ENOENT);
}

TEST_F(StoreNamespaceTest, RenameOfDirectoryKeepsItsChildren) {
  InodeNo d = MakeDir(kRootInode, "d");
  InodeNo e = MakeDir(kRootInode, "e");
  InodeNo f = MakeFile(d, "f");
  ASSERT_TRUE(store_->Rename(d, e, "d2", InodeNo(0), 1).ok());
  auto moved = store_->Lookup(e, "d2");
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(store_->Lookup(moved->ino, "f")->ino, f);
}

TEST_F(StoreNamespaceTest, HasChildrenFollowsCreateDeleteAndRename) {
  InodeNo d = MakeDir(kRootInode, "d");
  EXPECT_FALSE(store_->HasChildren(d).value());
  InodeNo f = MakeFile(d, "f");
  EXPECT_TRUE(store_->HasChildren(d).value());
  EXPECT_TRUE(store_->HasChildren(kRootInode).value());
  ASSERT_TRUE(store_->Rename(f, kRootInode, "f", InodeNo(0), 1).ok());
  EXPECT_FALSE(store_->HasChildren(d).value());
  ASSERT_TRUE(store_->DeleteInode(f).ok());
  // Root still has d.
  EXPECT_TRUE(store_->HasChildren(kRootInode).value());
  ASSERT_TRUE(store_->DeleteInode(d).ok());
  EXPECT_FALSE(store_->HasChildren(kRootInode).value());
}

TEST_F(StoreNamespaceTest, HasChildrenOfFileOrMissingInodeIsFalse) {
  InodeNo f = MakeFile(kRootInode, "f");
  EXPECT_FALSE(store_->HasChildren(f).value());
  EXPECT_FALSE(store_->HasChildren(InodeNo(9999)).value());
}

TEST_F(StoreNamespaceTest, ListChildrenPaginatesInInoOrder) {
  InodeNo d = MakeDir(kRootInode, "d");
  // Names in reverse order of creation: listing must follow ino, not name.
  std::vector<InodeNo> inos;
  for (int i = 0; i < 10; ++i) inos.push_back(MakeFile(d, std::string(1, 'z' - i)));
  MakeFile(kRootInode, "not-in-d");

  std::vector<InodeNo> seen;
  InodeNo after(0);
  int pages = 0;
  for (;;) {
    auto page = store_->ListChildren(d, after, 3);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    if (page->empty()) break;
    EXPECT_LE(page->size(), 3u);
    ++pages;
    for (const InodeRow& r : page.value()) {
      EXPECT_EQ(r.parent, d);
      seen.push_back(r.ino);
    }
    after = page->back().ino;
  }
  EXPECT_EQ(pages, 4);  // 3 + 3 + 3 + 1
  EXPECT_EQ(seen, inos);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
}

TEST_F(StoreNamespaceTest, ListChildrenReturnsFullRows) {
  InodeNo f = MakeFile(kRootInode, "\xfe\xff");
  CommitExtents(f, {{0, SlotId(2), 2}}, 70000);
  ASSERT_TRUE(store_->SetPin(f, 3).ok());
  auto page = store_->ListChildren(kRootInode, InodeNo(0), 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  const InodeRow& r = page->front();
  EXPECT_EQ(r.ino, f);
  EXPECT_EQ(r.name, "\xfe\xff");
  EXPECT_EQ(r.mode, kFileMode);
  EXPECT_EQ(r.size, 70000u);
  EXPECT_EQ(r.slots, 2u);
  EXPECT_EQ(r.pin, 3u);
}

TEST_F(StoreNamespaceTest, ListChildrenIsStableWhenRowsAreDeletedBetweenPages) {
  InodeNo d = MakeDir(kRootInode, "d");
  std::vector<InodeNo> inos;
  for (int i = 0; i < 9; ++i) inos.push_back(MakeFile(d, "f" + std::to_string(i)));

  auto p1 = store_->ListChildren(d, InodeNo(0), 3);
  ASSERT_TRUE(p1.ok());
  ASSERT_EQ(p1->size(), 3u);
  // Delete the cursor row itself, one already seen, and one not yet seen.
  ASSERT_TRUE(store_->DeleteInode(inos[2]).ok());
  ASSERT_TRUE(store_->DeleteInode(inos[0]).ok());
  ASSERT_TRUE(store_->DeleteInode(inos[4]).ok());
  // A new entry gets a higher ino and shows up at the end.
  InodeNo late = MakeFile(d, "late");

  std::vector<InodeNo> rest;
  InodeNo after = p1->back().ino;
  for (;;) {
    auto page = store_->ListChildren(d, after, 3);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    for (const InodeRow& r : page.value()) rest.push_back(r.ino);
    after = page->back().ino;
  }
  EXPECT_EQ(rest, (std::vector<InodeNo>{inos[3], inos[5], inos[6], inos[7],
                                        inos[8], late}));
}

TEST_F(StoreNamespaceTest, ListChildrenAfterLastInoIsEmpty) {
  InodeNo d = MakeDir(kRootInode, "d");
  InodeNo f = MakeFile(d, "f");
  EXPECT_TRUE(store_->ListChildren(d, f, 10)->empty());
  EXPECT_TRUE(store_->ListChildren(d, InodeNo(UINT32_MAX), 10)->empty());
}

TEST_F(StoreNamespaceTest, ListChildrenWithLimitZeroIsEmpty) {
  MakeFile(kRootInode, "f");
  auto page = store_->ListChildren(kRootInode, InodeNo(0), 0);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->empty());
}

TEST_F(StoreNamespaceTest, ListChildrenWithHugeLimitListsAll) {
  for (int i = 0; i < 5; ++i) MakeFile(kRootInode, std::to_string(i));
  auto page = store_->ListChildren(kRootInode, InodeNo(0), SIZE_MAX);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->size(), 5u);
}

TEST_F(StoreNamespaceTest, ListChildrenListsOnlyDirectChildren) {
  InodeNo d = MakeDir(kRootInode, "d");
  InodeNo sub = MakeDir(d, "sub");
  MakeFile(sub, "deep");
  InodeNo f = MakeFile(d, "f");
  auto page = store_->ListChildren(d, InodeNo(0), 100);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].ino, sub);
  EXPECT_EQ((*page)[1].ino, f);
}

TEST_F(StoreNamespaceTest, SetPinPersistsAcrossReopen) {
  InodeNo f = MakeFile(kRootInode, "f");
  ASSERT_TRUE(store_->SetPin(f, 7).ok());
  Reopen();
  EXPECT_EQ(store_->GetInode(f)->pin, 7u);
  ASSERT_TRUE(store_->SetPin(f, 0).ok());
  Reopen();
  EXPECT_EQ(store_->GetInode(f)->pin, 0u);
}

TEST_F(StoreNamespaceTest, SetPinKeepsFullUint32Range) {
  InodeNo f = MakeFile(kRootInode, "f");
  ASSERT_TRUE(store_->SetPin(f, UINT32_MAX).ok());
  EXPECT_EQ(store_->GetInode(f)->pin, UINT32_MAX);
}

TEST_F(StoreNamespaceTest, SetPinOfMissingInodeIsEnoent) {
  EXPECT_EQ(store_->SetPin(InodeNo(777), 1).code(), ENOENT);
}

TEST_F(StoreNamespaceTest, ConcurrentCreatesFromManyThreadsAllLand) {
  constexpr int kThreads = 8, kPerThread = 50;
  std::vector<InodeNo> dirs;
  for (int t = 0; t < kThreads; ++t) dirs.push_back(MakeDir(kRootInode, "t" + std::to_string(t)));
  std::vector<std::vector<uint64_t>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = store_->CreateInode(dirs[t], "f" + std::to_string(i), kFileMode,
                                     0, 0, 1, InodeState::kWriting);
        if (!r.ok()) continue;
        got[t].push_back(r->ino.value);
        (void)store_->Lookup(dirs[t], "f" + std::to_string(i));
        if (i % 10 == 0) {
          FileCommit fc;
          fc.ino = r->ino;
          fc.extents = {{0, SlotId(static_cast<uint64_t>(t * kPerThread + i)), 1}};
          (void)store_->CommitFiles({fc}, nullptr);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<uint64_t> all;
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(got[t].size(), static_cast<size_t>(kPerThread)) << "thread " << t;
    // Each inode number returned is the row that was inserted.
    for (size_t i = 0; i < got[t].size(); ++i) {
      auto row = store_->GetInode(InodeNo(got[t][i]));
      ASSERT_TRUE(row.ok());
      EXPECT_EQ(row->parent, dirs[t]);
      EXPECT_EQ(row->name, "f" + std::to_string(i));
    }
    all.insert(got[t].begin(), got[t].end());
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(AllExtents().size(), static_cast<size_t>(kThreads * kPerThread / 10));
}

using Times = std::pair<int64_t, int64_t>;  // (mtime_ns, ctime_ns)

TEST_F(StoreNamespaceTest, EntryChangesSetTheirDirectoriesTimesInTheSameTransaction) {
  InodeNo a = MakeDir(kRootInode, "a");
  InodeNo b = MakeDir(kRootInode, "b");
  auto times = [&](InodeNo d) {
    auto r = store_->GetInode(d);
    EXPECT_TRUE(r.ok());
    return Times(r->mtime_ns, r->ctime_ns);
  };
  auto f = store_->CreateInode(a, "f", kFileMode, kUid, kGid, 500, InodeState::kComplete);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(Times(500, 500), times(a));
  ASSERT_TRUE(store_->Rename(f->ino, b, "g", InodeNo(0), 600).ok());
  EXPECT_EQ(Times(600, 600), times(a)) << "source";
  EXPECT_EQ(Times(600, 600), times(b)) << "target";
  ASSERT_TRUE(store_->DeleteInode(f->ino).ok());
  EXPECT_GT(times(b).first, 600) << "delete sets the time to now";
  EXPECT_EQ(600, times(a).first) << "a's entries did not change";
}

TEST_F(StoreNamespaceTest, SubdirectoriesAndInodesAreCounted) {
  EXPECT_EQ(0u, store_->CountSubdirs(kRootInode).value());
  EXPECT_EQ(1u, store_->InodeCount().value());
  InodeNo a = MakeDir(kRootInode, "a");
  MakeDir(a, "x");
  MakeDir(a, "y");
  InodeNo f = MakeFile(a, "f");
  EXPECT_EQ(1u, store_->CountSubdirs(kRootInode).value());
  EXPECT_EQ(2u, store_->CountSubdirs(a).value()) << "files do not count";
  EXPECT_EQ(5u, store_->InodeCount().value());
  ASSERT_TRUE(store_->DeleteInode(f).ok());
  auto gone = store_->DeleteInodes({store_->Lookup(a, "x")->ino, InodeNo(999)});
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(3u, store_->InodeCount().value());
  EXPECT_EQ(1u, store_->CountSubdirs(a).value());
  Reopen();
  EXPECT_EQ(3u, store_->InodeCount().value());
}

TEST_F(StoreNamespaceTest, OpenAddsTheSubdirectoryIndexToAnOlderDatabase) {
  MakeDir(kRootInode, "a");
  store_.reset();
  {
    RawDb raw(path_);
    ASSERT_EQ("", raw.Exec("DROP INDEX inodes_subdirs"));
  }
  Reopen();
  EXPECT_EQ(1u, store_->CountSubdirs(kRootInode).value());
  store_.reset();
  RawDb raw(path_);
  EXPECT_EQ("1", raw.QueryText("SELECT count(*) FROM sqlite_schema WHERE name='inodes_subdirs'"));
}

}  // namespace
}  // namespace slotfs::meta::testing
