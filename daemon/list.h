/* list: the intrusive doubly linked list the server keeps its
 * connections and sleeping threads on. Header only.
 *
 * A head is a struct list whose prev and next point at itself when the
 * list is empty; an entry embeds a struct list and is found again with
 * list_entry(). Not locked: the owner of a list locks around it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct list {
        struct list *prev, *next;
};

static inline void list_init(struct list *l)
{
        l->prev = l->next = l;
}

/* Whether entry e is on a list (an entry never listed is all zero). */
static inline bool list_linked(const struct list *e)
{
        return e->next && e->next != e;
}

static inline void list_add(struct list *head, struct list *e)
{
        e->prev = head;
        e->next = head->next;
        head->next->prev = e;
        head->next = e;
}

static inline void list_del(struct list *e)
{
        e->prev->next = e->next;
        e->next->prev = e->prev;
        list_init(e);
}

#define list_entry(l, type, member) ((type *)((char *)(l) - offsetof(type, member)))
#define list_each(pos, head) for (struct list *pos = (head)->next; pos != (head); pos = pos->next)
